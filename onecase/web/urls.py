from django.urls import path

from onecase.web import (
    case_urls,
    contact_log_views,
    demand_views,
    impact_urls,
    measure_urls,
    meeting_urls,
    profile_views,
    report_urls,
    review_urls,
    search_views,
    sharing_views,
    token_urls,
    views,
)

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in/", views.SignInView.as_view(), name="login"),
    path("sign-out/", views.SignOutView.as_view(), name="logout"),
    path("imports/", views.import_list, name="import_list"),
    path("imports/new/", views.import_new, name="import_new"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:pk>/status/", views.import_status, name="import_status"),
    path("imports/<int:pk>/start/", views.import_start, name="import_start"),
    path("demand/", demand_views.demand_dashboard, name="demand"),
    path("households/<int:pk>/", profile_views.household_profile, name="household"),
    path("people/search/", search_views.person_search, name="person_search"),
    path("people/<int:pk>/", profile_views.person_profile, name="person"),
    path("people/<int:pk>/contacts/new/", contact_log_views.person_contact_new, name="person_contact_new"),
    path("households/<int:pk>/contacts/new/", contact_log_views.household_contact_new, name="household_contact_new"),
    path("people/<int:pk>/request-access/", sharing_views.access_request, name="access_request"),
    path("people/<int:pk>/break-the-glass/", sharing_views.break_the_glass, name="break_glass"),
    path("people/<int:pk>/subject-access.zip", sharing_views.subject_access_bundle, name="subject_access"),
    path("requests/", sharing_views.requests_list, name="requests"),
    path("requests/<int:pk>/decide/", sharing_views.request_decide, name="request_decide"),
    path("data-protection/", sharing_views.dpo_dashboard, name="dpo"),
    path("demand.csv", demand_views.demand_csv, name="demand_csv"),
    path("demand/per-month.csv", demand_views.demand_trend_csv, name="demand_trend_csv"),
]
urlpatterns += case_urls.urlpatterns
urlpatterns += review_urls.urlpatterns
urlpatterns += meeting_urls.urlpatterns
urlpatterns += report_urls.urlpatterns
urlpatterns += impact_urls.urlpatterns
urlpatterns += measure_urls.urlpatterns
urlpatterns += token_urls.urlpatterns
