from django.urls import path

from onecase.web import impact_views as v

urlpatterns = [
    path("impact/", v.impact_page, name="impact"),
    path("impact.csv", v.impact_csv, name="impact_csv"),
    path("impact.xlsx", v.impact_xlsx, name="impact_xlsx"),
    path("impact.pdf", v.impact_pdf, name="impact_pdf"),
]
