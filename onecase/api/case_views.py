"""Cases over the API: open, read, chronology, and pull-in grants. Thin: services write, selectors read."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from onecase.accounts.models import User
from onecase.cases import services
from onecase.cases.models import Section
from onecase.cases.rules import is_case_team, sections_visible
from onecase.cases.selectors import (
    case_for,
    cases_visible_to,
    chronology_for,
    drift_alerts,
    grant_for,
    invitation_for,
)
from onecase.people.models import Household, Person
from onecase.sharing.models import AuditEvent
from onecase.sharing.services import audit_record, client_ip

ERRORS = {400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT}


def _invalid(error: ValidationError, code=status.HTTP_400_BAD_REQUEST, **extra) -> Response:
    return Response({"detail": " ".join(error.messages), **extra}, status=code)


SUBJECT_SCHEMA = {
    "oneOf": [
        {"type": "object", "properties": {"household_id": {"type": "integer", "minimum": 1}},
         "required": ["household_id"], "additionalProperties": False},
        {"type": "object", "properties": {"person_id": {"type": "integer", "minimum": 1}},
         "required": ["person_id"], "additionalProperties": False},
    ],
    "description": "The household or the person, by the ids export_links writes.",
}


@extend_schema_field(SUBJECT_SCHEMA)
class SubjectField(serializers.Field):
    def to_internal_value(self, data):
        if not isinstance(data, dict) or len(data) != 1 or next(iter(data)) not in ("household_id", "person_id"):
            raise serializers.ValidationError("Give either household_id or person_id.")
        (key, value), = data.items()
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise serializers.ValidationError(f"{key} must be a positive whole number.")
        return {key: value}

    def to_representation(self, value):
        return value


class CaseOpenSerializer(serializers.Serializer):
    subject = SubjectField()
    key_worker = serializers.CharField(max_length=150)
    summary = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class NeedSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    words = serializers.CharField()
    category = serializers.CharField(source="category.name", default=None, read_only=True)
    goal = serializers.CharField(allow_blank=True)
    outcome = serializers.CharField(allow_blank=True, read_only=True)


class GrantSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(source="invitee.username", default=None)
    agency = serializers.CharField(source="agency.code")
    purpose = serializers.CharField()
    may_see = serializers.ListField(child=serializers.CharField())
    may_add = serializers.ListField(child=serializers.CharField())
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    status = serializers.CharField(source="status_label")


class ActionSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField()
    owner = serializers.CharField(source="owner.username")
    agency = serializers.CharField(source="agency.code")
    due_on = serializers.DateField()
    done = serializers.SerializerMethodField()
    overdue = serializers.BooleanField()

    def get_done(self, action) -> bool:
        return action.done_at is not None


class CaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    subject = serializers.SerializerMethodField()
    key_worker = serializers.CharField(source="key_worker.username")
    agency = serializers.CharField(source="agency.code")
    status = serializers.CharField()
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)

    def get_subject(self, case) -> dict:
        return {"household_id": case.household_id} if case.household_id else {"person_id": case.person_id}


class CaseDetailSerializer(CaseSerializer):
    summary = serializers.CharField()
    needs = NeedSerializer(many=True)
    actions = ActionSerializer(many=True)
    grants = GrantSerializer(many=True)
    flags = serializers.ListField(child=serializers.CharField())
    drift = serializers.ListField(child=serializers.CharField())


class EntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    source = serializers.ChoiceField(choices=["contact", "case"])
    agency = serializers.CharField()
    title = serializers.CharField()
    detail = serializers.CharField()
    who = serializers.CharField()


class GrantCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    purpose = serializers.CharField(max_length=500)
    ends_on = serializers.DateField()
    may_see = serializers.ListField(child=serializers.ChoiceField(choices=Section.choices), required=False)
    may_add = serializers.ListField(child=serializers.ChoiceField(choices=Section.choices), required=False)


class CreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()


def _detail(user, case) -> dict:
    sections = sections_visible(user, case)
    data = CaseSerializer(case).data
    data["summary"] = case.summary if Section.NEEDS in sections else ""
    needs = case.needs.select_related("category")
    data["needs"] = NeedSerializer(needs, many=True).data if Section.NEEDS in sections else []
    data["actions"] = (
        ActionSerializer(case.actions.select_related("owner", "agency"), many=True).data
        if Section.ACTIONS in sections else []
    )
    team_view = is_case_team(user, case)
    grants = case.grants.select_related("invitee", "agency")
    data["grants"] = GrantSerializer(grants if team_view else grants.filter(invitee=user), many=True).data
    data["flags"] = (
        [f"{f.get_kind_display()}: {f.description}" for f in case.flags.filter(removed_at__isnull=True)]
        if Section.FLAGS in sections else []
    )
    data["drift"] = drift_alerts(case)
    return data


class CaseList(APIView):
    """Cases the caller may see; POST opens one on a household or person (ids as in export_links)."""

    @extend_schema(responses=CaseSerializer(many=True))
    def get(self, request):
        cases = cases_visible_to(request.user).order_by("-opened_at", "-pk")[:500]
        audit_record(user=request.user, action=AuditEvent.Action.SEARCH, object_type="case", ip=client_ip(request),
                     detail={"rows": len(cases), "api": True})
        return Response(CaseSerializer(cases, many=True).data)

    @extend_schema(request=CaseOpenSerializer, responses={201: CreatedSerializer, 409: OpenApiTypes.OBJECT, **ERRORS})
    def post(self, request):
        body = CaseOpenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        params = body.validated_data
        key_worker = User.objects.filter(username=params["key_worker"], is_active=True).first()
        if key_worker is None:
            return Response({"key_worker": ["No active member of staff has this username."]}, status=400)
        subject = params["subject"]
        household = person = None
        if "household_id" in subject:
            household = get_object_or_404(Household, pk=subject["household_id"])
        else:
            person = get_object_or_404(Person, pk=subject["person_id"])
        try:
            case = services.case_open(actor=request.user, key_worker=key_worker, household=household, person=person,
                                      summary=params.get("summary", ""), ip=client_ip(request))
        except services.DuplicateCase as error:
            visible = cases_visible_to(request.user).filter(pk=error.case.pk).exists()
            return _invalid(error, status.HTTP_409_CONFLICT, existing_case=error.case.pk if visible else None)
        except ValidationError as error:
            return _invalid(error)
        return Response({"id": case.pk, **CaseSerializer(case).data}, status=status.HTTP_201_CREATED)


class CaseDetail(APIView):
    """One case: subject, key worker, status, and the sections the caller may see."""

    @extend_schema(responses={200: CaseDetailSerializer, **ERRORS})
    def get(self, request, pk: int):
        case = case_for(request.user, pk)
        with transaction.atomic():
            audit_record(user=request.user, action=AuditEvent.Action.VIEW, object_type="case", object_id=pk,
                         ip=client_ip(request), detail={"api": True})
        return Response(_detail(request.user, case))


class CaseChronology(APIView):
    """The subject's contacts at every agency the caller may see in full, merged with the case's events."""

    @extend_schema(responses={200: EntrySerializer(many=True), **ERRORS})
    def get(self, request, pk: int):
        case = case_for(request.user, pk)
        chronology = chronology_for(request.user, case)
        audit_record(user=request.user, action=AuditEvent.Action.VIEW, object_type="case", object_id=pk,
                     purpose="chronology", ip=client_ip(request),
                     detail={"api": True, "entries": len(chronology.entries)})
        return Response(EntrySerializer(chronology.entries, many=True).data)


class CaseGrants(APIView):
    """Pull-in grants on the case. POST invites a practitioner (the key worker only)."""

    @extend_schema(responses={200: GrantSerializer(many=True), **ERRORS})
    def get(self, request, pk: int):
        return Response(_detail(request.user, case_for(request.user, pk))["grants"])

    @extend_schema(request=GrantCreateSerializer, responses={201: CreatedSerializer, **ERRORS})
    def post(self, request, pk: int):
        case = case_for(request.user, pk)
        body = GrantCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        params = body.validated_data
        invitee = User.objects.filter(username=params["username"], is_active=True).select_related("agency").first()
        if invitee is None:
            return Response({"username": ["No active member of staff has this username."]}, status=400)
        try:
            grant = services.grant_invite(
                actor=request.user, case=case, invitee=invitee, purpose=params["purpose"], ends_on=params["ends_on"],
                may_see=params.get("may_see"), may_add=params.get("may_add"), ip=client_ip(request),
            )
        except ValidationError as error:
            return _invalid(error)
        return Response({"id": grant.pk, **GrantSerializer(grant).data}, status=status.HTTP_201_CREATED)


class GrantDetail(APIView):
    @extend_schema(responses={200: GrantSerializer, **ERRORS})
    def get(self, request, pk: int, grant_pk: int):
        """One pull-in grant: the case team sees any; an invitee their own."""
        case = case_for(request.user, pk)
        return Response(GrantSerializer(grant_for(request.user, case, grant_pk)).data)

    @extend_schema(responses={204: None, **ERRORS})
    def delete(self, request, pk: int, grant_pk: int):
        """Revoke the grant (the key worker): the invitee's next request is refused."""
        case = case_for(request.user, pk)
        grant = grant_for(request.user, case, grant_pk)
        try:
            services.grant_revoke(actor=request.user, grant=grant, ip=client_ip(request))
        except ValidationError as error:
            return _invalid(error)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GrantAnswer(APIView):
    answer = "accept"

    @extend_schema(request=None, responses={200: GrantSerializer, **ERRORS})
    def post(self, request, pk: int, grant_pk: int):
        """Accept (or decline) an invitation addressed to the caller."""
        grant = invitation_for(request.user, pk, grant_pk)
        service = services.grant_accept if self.answer == "accept" else services.grant_decline
        try:
            grant = service(actor=request.user, grant=grant, ip=client_ip(request))
        except ValidationError as error:
            return _invalid(error)
        return Response(GrantSerializer(grant).data)
