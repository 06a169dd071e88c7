"""Meetings over the API, read only: the meetings a caller sits on, one meeting, and overlaps.

Scoped by ``meetings.selectors`` like the pages; reading an agenda is audited. Minutes are not
served here (they go to named recipients, on their page).
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from onecase.audit.services import client_ip
from onecase.meetings.rules import sees_aggregates_only
from onecase.meetings.selectors import meeting_cost, meeting_read, meetings_visible_to, overlaps_read


class MeetingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    series = serializers.CharField(source="series.name")
    type = serializers.CharField(source="series.kind")
    chair_agency = serializers.CharField(source="series.chair_agency.code")
    held_on = serializers.DateField()
    status = serializers.CharField()


class AttendeeSerializer(serializers.Serializer):
    name = serializers.CharField()
    agency = serializers.CharField(source="agency.code")
    role = serializers.CharField(source="role.name")
    hours = serializers.DecimalField(max_digits=5, decimal_places=2)
    hourly_rate_gbp = serializers.DecimalField(source="role.hourly_rate_gbp", max_digits=8, decimal_places=2)


class DecisionActionSerializer(serializers.Serializer):
    title = serializers.CharField()
    owner = serializers.CharField(source="owner.username")
    due_on = serializers.DateField()


class DecisionSerializer(serializers.Serializer):
    text = serializers.CharField()
    recorded_at = serializers.DateTimeField()
    actions = DecisionActionSerializer(source="actions.all", many=True)


class ResearchSerializer(serializers.Serializer):
    agency = serializers.CharField(source="agency.code")
    text = serializers.CharField()
    created_at = serializers.DateTimeField()


class AgendaItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    subject_kind = serializers.CharField()
    subject_id = serializers.IntegerField()
    label = serializers.CharField()
    case = serializers.CharField(source="case.reference", default=None)
    reason = serializers.CharField()
    proposed_automatically = serializers.BooleanField()
    rule = serializers.CharField()
    research = ResearchSerializer(source="research.all", many=True)
    decisions = DecisionSerializer(source="decisions.all", many=True)


class MeetingDetailSerializer(MeetingSerializer):
    cost_gbp = serializers.DecimalField(max_digits=12, decimal_places=2)
    attendees = AttendeeSerializer(many=True)
    agenda = AgendaItemSerializer(many=True)


class MeetingList(ListAPIView):
    """Meetings of the series the caller's agency sits on (all of them for the partnership), newest first."""

    serializer_class = MeetingSerializer

    def get_queryset(self):
        return meetings_visible_to(self.request.user).order_by("-held_on", "-pk")


class MeetingDetail(APIView):
    """One meeting: agenda (with research and decisions), attendees and cost. The read is audited."""

    @extend_schema(responses={200: MeetingDetailSerializer, 404: OpenApiTypes.OBJECT})
    def get(self, request, pk: int):
        meeting = get_object_or_404(meetings_visible_to(request.user), pk=pk)
        detail = meeting_read(request.user, meeting, ip=client_ip(request), api=True)
        items = detail["items"]
        payload = {
            "id": meeting.pk, "series": meeting.series, "held_on": meeting.held_on, "status": meeting.status,
            "cost_gbp": meeting_cost(detail["attendees"]), "attendees": detail["attendees"], "agenda": items,
        }
        return Response(MeetingDetailSerializer(payload).data)


class OverlapMeetingSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="meeting.pk")
    series = serializers.CharField(source="meeting.series.name")
    held_on = serializers.DateField(source="meeting.held_on")
    via = serializers.CharField()


class OverlapSerializer(serializers.Serializer):
    kind = serializers.CharField()
    subject_id = serializers.IntegerField()
    label = serializers.CharField()
    series = serializers.SerializerMethodField()
    meetings = OverlapMeetingSerializer(source="listings", many=True)

    def get_series(self, overlap) -> list[str]:
        return [s.name for s in overlap.series]


class OverlapsSerializer(serializers.Serializer):
    since = serializers.DateField(allow_null=True)
    until = serializers.DateField(allow_null=True)
    count = serializers.IntegerField()
    overlaps = OverlapSerializer(many=True, help_text="Empty for analysts and auditors, who see the count only.")


class PeriodQuery(serializers.Serializer):
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)  # before since: an empty period, nothing found


class OverlapList(APIView):
    """Households and people on the agendas of more than one series in the period, naming the meetings."""

    @extend_schema(
        parameters=[OpenApiParameter("since", OpenApiTypes.DATE), OpenApiParameter("until", OpenApiTypes.DATE)],
        responses={200: OverlapsSerializer, 400: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        query = PeriodQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        since, until = query.validated_data.get("since"), query.validated_data.get("until")
        found = overlaps_read(request.user, since=since, until=until, ip=client_ip(request), api=True)
        shown = [] if sees_aggregates_only(request.user) else found
        return Response(OverlapsSerializer({"since": since, "until": until, "count": len(found),
                                            "overlaps": shown}).data)
