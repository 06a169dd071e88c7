"""Multi-agency meeting pages, added to the ``web`` namespace by ``onecase.web.urls``."""

from django.urls import path

from onecase.web import meeting_views

urlpatterns = [
    path("meetings/", meeting_views.series_list, name="meetings"),
    path("meetings/overlaps/", meeting_views.overlap_list, name="meetings_overlaps"),
    path("meetings/costs/", meeting_views.cost_report, name="meetings_costs"),
    path("meetings/costs.csv", meeting_views.cost_csv, name="meetings_costs_csv"),
    path("meetings/series/<int:pk>/new/", meeting_views.meeting_new, name="meeting_new"),
    path("meetings/<int:pk>/", meeting_views.meeting_page, name="meeting_detail"),
    path("meetings/<int:pk>/attendees/new/", meeting_views.attendee_new, name="meeting_attendee_new"),
    path("meetings/<int:pk>/agenda/new/", meeting_views.agenda_item_new, name="meeting_agenda_new"),
    path("meetings/<int:pk>/agenda/propose/", meeting_views.agenda_propose_view, name="meeting_agenda_propose"),
    path("meetings/<int:pk>/agenda/<int:item>/research/", meeting_views.research_new, name="meeting_research_new"),
    path("meetings/<int:pk>/agenda/<int:item>/decision/", meeting_views.decision_new, name="meeting_decision_new"),
    path("meetings/<int:pk>/minutes/", meeting_views.minutes_view, name="meeting_minutes"),
    path("meetings/<int:pk>/minutes/edit/", meeting_views.minutes_edit, name="meeting_minutes_edit"),
]
