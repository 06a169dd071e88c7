from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from onecase.api import case_views, contact_views, impact_views, measure_views, meeting_views, search_views, views

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("agencies/", views.AgencyCountsView.as_view(), name="agencies"),
    path("imports/", views.ImportJobList.as_view(), name="imports"),
    path("imports/<int:pk>/", views.ImportJobDetail.as_view(), name="import"),
    path("demand", views.DemandView.as_view(), name="demand"),
    path("failure-demand", views.FailureDemandView.as_view(), name="failure_demand"),
    path("people/search", search_views.PersonSearch.as_view(), name="person_search"),
    path("contacts", contact_views.ContactLog.as_view(), name="contacts"),
    path("audit", views.AuditEventList.as_view(), name="audit"),
    path("cases", case_views.CaseList.as_view(), name="cases"),
    path("cases/<int:pk>", case_views.CaseDetail.as_view(), name="case"),
    path("cases/<int:pk>/needs/<int:need_pk>", case_views.NeedDetail.as_view(), name="case_need"),
    path("cases/<int:pk>/chronology", case_views.CaseChronology.as_view(), name="case_chronology"),
    path("cases/<int:pk>/grants", case_views.CaseGrants.as_view(), name="case_grants"),
    path("cases/<int:pk>/grants/<int:grant_pk>", case_views.GrantDetail.as_view(), name="case_grant"),
    path("cases/<int:pk>/grants/<int:grant_pk>/accept", case_views.GrantAnswer.as_view(answer="accept"),
         name="case_grant_accept"),
    path("cases/<int:pk>/grants/<int:grant_pk>/decline", case_views.GrantAnswer.as_view(answer="decline"),
         name="case_grant_decline"),
    path("impact", impact_views.ImpactView.as_view(), name="impact"),
    path("savings", impact_views.SavingsView.as_view(), name="savings"),
    path("measures/", measure_views.MeasureList.as_view(), name="measures"),
    path("measures/<slug:slug>/", measure_views.MeasureDetail.as_view(), name="measure"),
    path("measures/<slug:slug>/forecast/", measure_views.MeasureForecast.as_view(), name="measure_forecast"),
    path("meetings", meeting_views.MeetingList.as_view(), name="meetings"),
    path("meetings/overlaps", meeting_views.OverlapList.as_view(), name="meetings_overlaps"),
    path("meetings/<int:pk>", meeting_views.MeetingDetail.as_view(), name="meeting"),
]
