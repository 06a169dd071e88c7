from django.urls import path

from onecase.web import case_import_views
from onecase.web import case_views as v

urlpatterns = [
    path("cases/", v.my_cases_page, name="my_cases"),
    path("cases/open/", v.case_open, name="case_open"),
    path("cases/import/", case_import_views.case_import, name="case_import"),
    path("cases/<int:pk>/", v.case_detail, name="case"),
    path("cases/<int:pk>/costs/", v.case_costs, name="case_costs"),
    path("cases/<int:pk>/costs.csv", v.case_costs_csv, name="case_costs_csv"),
    path("cases/<int:pk>/needs/new/", v.case_need_add, name="case_need_add"),
    path("cases/<int:pk>/needs/<int:need_pk>/outcome/", v.case_need_outcome, name="case_need_outcome"),
    path("cases/<int:pk>/needs/<int:need_pk>/follow-up/", v.case_need_followup, name="case_need_followup"),
    path("cases/<int:pk>/notes/new/", v.case_note_add, name="case_note_add"),
    path("cases/<int:pk>/actions/new/", v.case_action_add, name="case_action_add"),
    path("cases/<int:pk>/actions/<int:action_pk>/done/", v.case_action_done, name="case_action_done"),
    path("cases/<int:pk>/flags/new/", v.case_flag_add, name="case_flag_add"),
    path("cases/<int:pk>/flags/<int:flag_pk>/remove/", v.case_flag_remove, name="case_flag_remove"),
    path("cases/<int:pk>/pull-in/", v.case_grant_add, name="case_grant_add"),
    path("cases/<int:pk>/pull-in/<int:grant_pk>/accept/", v.case_grant_answer, {"answer": "accept"},
         name="case_grant_accept"),
    path("cases/<int:pk>/pull-in/<int:grant_pk>/decline/", v.case_grant_answer, {"answer": "decline"},
         name="case_grant_decline"),
    path("cases/<int:pk>/pull-in/<int:grant_pk>/revoke/", v.case_grant_revoke, name="case_grant_revoke"),
    path("cases/<int:pk>/status/", v.case_status, name="case_status"),
    path("cases/<int:pk>/transfer/", v.case_transfer, name="case_transfer"),
]
