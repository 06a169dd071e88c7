from django.urls import path

from onecase.web import measure_views as v

urlpatterns = [
    path("measures/", v.measures_dashboard, name="measures"),
    path("measures/definitions/", v.measure_definitions, name="measure_definitions"),
    path("measures/<slug:slug>/", v.measure_page, name="measure"),
    path("measures/<slug:slug>.csv", v.measure_csv, name="measure_csv"),
    path("measures/<slug:slug>/edit/", v.measure_edit, name="measure_edit"),
    path("measures/<slug:slug>/baselines/new/", v.measure_baseline_add, name="measure_baseline_add"),
]
