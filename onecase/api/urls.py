from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from onecase.api import views

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("agencies/", views.AgencyCountsView.as_view(), name="agencies"),
    path("imports/", views.ImportJobList.as_view(), name="imports"),
    path("imports/<int:pk>/", views.ImportJobDetail.as_view(), name="import"),
    path("demand", views.DemandView.as_view(), name="demand"),
]
