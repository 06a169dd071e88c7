"""Cases over the API: open, read, chronology, and pull-in grants. Thin: services write, selectors read.

Writes to a case, a need or a grant name the version they read, as ``version`` in the body or an
``If-Match`` header holding the ETag of a read; a stale version gets 409 with what is saved now.
"""

import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from onecase.cases import services
from onecase.cases.models import Outcome, Section, Status
from onecase.cases.rules import is_case_team, may_manage_case, sections_visible
from onecase.cases.selectors import (
    case_for,
    case_holders_for,
    case_read,
    case_subject_for,
    cases_search,
    cases_visible_to,
    chronology_read,
    drift_alerts,
    duplicate_message,
    grant_for,
    grant_invitees_for,
    invitation_for,
)
from onecase.concurrency import CONFLICT_MESSAGE, Conflict, parse_version
from onecase.sharing.models import Purpose
from onecase.sharing.services import client_ip

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


VERSION_HELP = "The version this object had when you read it; a stale one gets 409."


class NeedSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    words = serializers.CharField()
    category = serializers.CharField(source="category.name", default=None, read_only=True)
    goal = serializers.CharField(allow_blank=True)
    outcome = serializers.CharField(allow_blank=True, read_only=True)
    outcome_evidence = serializers.CharField(allow_blank=True, read_only=True)
    followup_outcome = serializers.CharField(
        allow_blank=True, read_only=True,
        help_text="Better, same or worse six months after closure; empty until recorded.",
    )
    followup_evidence = serializers.CharField(allow_blank=True, read_only=True)
    version = serializers.IntegerField(read_only=True)


class GrantSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(source="invitee.username", default=None)
    agency = serializers.CharField(source="agency.code")
    purpose = serializers.CharField()
    purpose_code = serializers.CharField(help_text="What the work is for: the purpose carried into disclosures.")
    agreement = serializers.CharField(source="agreement.reference", default=None,
                                      help_text="The sharing agreement the pull-in relies on, across agencies.")
    may_see = serializers.ListField(child=serializers.CharField())
    may_add = serializers.ListField(child=serializers.CharField())
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    status = serializers.CharField(source="status_label")
    version = serializers.IntegerField(read_only=True)


class ActionSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField()
    owner = serializers.CharField(source="owner.username")
    agency = serializers.CharField(source="agency.code")
    due_on = serializers.DateField()
    done = serializers.SerializerMethodField()
    overdue = serializers.BooleanField()
    version = serializers.IntegerField(read_only=True)

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
    imported_ref = serializers.CharField(
        help_text="The case's reference in the old system, for a case imported from it; empty otherwise."
    )
    imported_at = serializers.DateTimeField(allow_null=True, help_text="When the case was imported, if it was.")
    version = serializers.IntegerField()

    def get_subject(self, case) -> dict:
        return {"household_id": case.household_id} if case.household_id else {"person_id": case.person_id}


class CaseDetailSerializer(CaseSerializer):
    summary = serializers.CharField()
    needs = NeedSerializer(many=True)
    actions = ActionSerializer(many=True)
    grants = GrantSerializer(many=True)
    flags = serializers.ListField(child=serializers.CharField())
    drift = serializers.ListField(child=serializers.CharField())
    outcomes_not_recorded = serializers.BooleanField(
        help_text="True for an imported closed case whose outcomes the old system did not record."
    )


class EntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    at.timezone = at.default_timezone()  # looked up once, not per entry (the field reads ``timezone`` if set)
    source = serializers.ChoiceField(choices=["contact", "case"])
    agency = serializers.CharField()
    title = serializers.CharField()
    detail = serializers.CharField()
    who = serializers.CharField()
    shared_under = serializers.CharField(
        help_text="For another agency's contact: the sharing agreement and purpose it was disclosed under."
    )


class GrantCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    purpose = serializers.CharField(max_length=500)
    purpose_code = serializers.ChoiceField(choices=Purpose.choices, default=Purpose.KEY_WORK,
                                           help_text="What the work is for (default key work).")
    ends_on = serializers.DateField()
    may_see = serializers.ListField(child=serializers.ChoiceField(choices=Section.choices), required=False)
    may_add = serializers.ListField(child=serializers.ChoiceField(choices=Section.choices), required=False)


class CreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()


class CaseStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices, help_text="The status to move the case to.")
    version = serializers.IntegerField(min_value=1, required=False, help_text=f"{VERSION_HELP} Required, here or "
                                       "as If-Match.")


class NeedOutcomeSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    evidence = serializers.CharField(max_length=2000)
    version = serializers.IntegerField(min_value=1, required=False, help_text=f"{VERSION_HELP} Required, here or "
                                       "as If-Match.")


class GrantAnswerSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, required=False,
                                       help_text=f"{VERSION_HELP} Optional: an answer is checked against the "
                                                 "invitation's state in any case.")


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    your_version = serializers.IntegerField()
    current_version = serializers.IntegerField()
    current = serializers.DictField(help_text="The object as saved now, as a read returns it.")


IF_MATCH = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description='The ETag of your read, such as "3" (the version); the same as giving version in the body.',
)
VERSION_ERRORS = {**{400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
                  409: ConflictSerializer, 428: OpenApiTypes.OBJECT}
ETAG = re.compile(r'^(?:W/)?"([0-9]{1,9})"$')


class VersionError(Exception):
    def __init__(self, response: Response):
        self.response = response


def _expected_version(request, body_version: int | None, *, required: bool) -> int | None:
    """The version the caller read, from the body or If-Match; raises VersionError with the answer to give."""
    header = request.headers.get("If-Match", "").strip()
    from_header = None
    if header and header != "*":
        match = ETAG.match(header)
        from_header = parse_version(match.group(1) if match else header)
        if from_header is None:
            raise VersionError(Response({"detail": 'If-Match must hold the ETag of your read, such as "3".'},
                                        status=status.HTTP_400_BAD_REQUEST))
    if from_header is not None and body_version is not None and from_header != body_version:
        raise VersionError(Response({"detail": "The version in the body and in If-Match differ."},
                                    status=status.HTTP_400_BAD_REQUEST))
    version = body_version if body_version is not None else from_header
    if version is None and required:
        raise VersionError(Response(
            {"detail": "Give the version you read (version in the body, or an If-Match header), so that "
                       "nobody's change is overwritten unseen."},
            status=status.HTTP_428_PRECONDITION_REQUIRED))
    return version


def _conflict(error: Conflict, current_data) -> Response:
    """409: the write was refused; what is saved now, as the caller may already read it."""
    response = Response({
        "detail": f"{CONFLICT_MESSAGE} Read it again, check the change, and send yours with the current version.",
        "your_version": error.expected_version,
        "current_version": error.current_version,
        "current": current_data,
    }, status=status.HTTP_409_CONFLICT)
    response["ETag"] = f'"{error.current_version}"'
    return response


def _tagged(data, version: int, code=status.HTTP_200_OK) -> Response:
    response = Response(data, status=code)
    response["ETag"] = f'"{version}"'
    return response


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
    data["outcomes_not_recorded"] = case.outcomes_not_recorded
    return data


class CaseList(APIView):
    """Cases the caller may see; POST opens one on a household or person (ids as in export_links)."""

    @extend_schema(responses=CaseSerializer(many=True))
    def get(self, request):
        cases = cases_search(request.user, ip=client_ip(request), api=True)
        return Response(CaseSerializer(cases, many=True).data)

    @extend_schema(request=CaseOpenSerializer, responses={201: CreatedSerializer, 409: OpenApiTypes.OBJECT, **ERRORS})
    def post(self, request):
        body = CaseOpenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        params = body.validated_data
        # A subject the caller may not identify answers exactly as one that does not exist.
        subject = case_subject_for(request.user, **params["subject"])
        key_worker = case_holders_for(request.user).filter(username=params["key_worker"]).first()
        if key_worker is None:
            return Response({"key_worker": ["Nobody you may make key worker has this username."]}, status=400)
        kind = "household" if "household_id" in params["subject"] else "person"
        try:
            case = services.case_open(actor=request.user, key_worker=key_worker, summary=params.get("summary", ""),
                                      ip=client_ip(request), **{kind: subject})
        except services.DuplicateCase as error:
            visible = cases_visible_to(request.user).filter(pk=error.case.pk).exists()
            return Response({"detail": duplicate_message(request.user, error.case),
                             "existing_case": error.case.pk if visible else None}, status=status.HTTP_409_CONFLICT)
        except ValidationError as error:
            return _invalid(error)
        return Response({"id": case.pk, **CaseSerializer(case).data}, status=status.HTTP_201_CREATED)


class CaseDetail(APIView):
    """One case: subject, key worker, status, and the sections the caller may see."""

    @extend_schema(responses={200: CaseDetailSerializer, **ERRORS})
    def get(self, request, pk: int):
        """The case; its ETag is the case's version."""
        case = case_read(request.user, pk, ip=client_ip(request), api=True)
        return _tagged(_detail(request.user, case), case.version)

    @extend_schema(request=CaseStatusSerializer, parameters=[IF_MATCH],
                   responses={200: CaseDetailSerializer, **VERSION_ERRORS})
    def patch(self, request, pk: int):
        """Change the status (the key worker or an administrator). The version read is required."""
        case = case_for(request.user, pk)
        body = CaseStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            version = _expected_version(request, body.validated_data.get("version"), required=True)
            services.case_set_status(actor=request.user, case=case, status=body.validated_data["status"],
                                     expected_version=version, ip=client_ip(request))
        except VersionError as error:
            return error.response
        except Conflict as error:
            return _conflict(error, CaseSerializer(error.current).data)
        except ValidationError as error:
            return _invalid(error)
        return _tagged(_detail(request.user, case), case.version)


class NeedDetail(APIView):
    """One need on a case the caller may see the needs of; PATCH records its outcome (the key worker)."""

    def _need(self, request, pk: int, need_pk: int):
        case = case_for(request.user, pk)
        need = case.needs.select_related("category").filter(pk=need_pk).first()
        if need is None or Section.NEEDS not in sections_visible(request.user, case):
            raise Http404("No such need.")
        return need

    @extend_schema(responses={200: NeedSerializer, **ERRORS})
    def get(self, request, pk: int, need_pk: int):
        need = self._need(request, pk, need_pk)
        return _tagged(NeedSerializer(need).data, need.version)

    @extend_schema(request=NeedOutcomeSerializer, parameters=[IF_MATCH],
                   responses={200: NeedSerializer, **VERSION_ERRORS})
    def patch(self, request, pk: int, need_pk: int):
        """Record the outcome and its evidence. The version read is required."""
        need = self._need(request, pk, need_pk)
        body = NeedOutcomeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        params = body.validated_data
        try:
            version = _expected_version(request, params.get("version"), required=True)
            services.need_outcome(actor=request.user, need=need, outcome=params["outcome"],
                                  evidence=params["evidence"], expected_version=version, ip=client_ip(request))
        except VersionError as error:
            return error.response
        except Conflict as error:
            return _conflict(error, NeedSerializer(error.current).data)
        except ValidationError as error:
            return _invalid(error)
        return _tagged(NeedSerializer(need).data, need.version)


class CaseChronology(APIView):
    """The subject's contacts at every agency the caller may see in full, merged with the case's events."""

    @extend_schema(responses={200: EntrySerializer(many=True), **ERRORS})
    def get(self, request, pk: int):
        case = case_for(request.user, pk)
        chronology = chronology_read(request.user, case, ip=client_ip(request), api=True)
        return Response(_entries(chronology.entries))


def _entries(entries) -> list[dict]:
    """``EntrySerializer(entries, many=True).data``, field for field, without a serializer per entry:
    a chronology has hundreds of entries, and the serializer's field machinery was most of its cost."""
    at = serializers.DateTimeField()
    at.timezone = at.default_timezone()  # looked up once, not per entry (the field reads ``timezone`` if set)

    def text(value):
        return None if value is None else str(value)

    return [
        {"at": None if e.at is None else at.to_representation(e.at), "source": e.source, "agency": text(e.agency),
         "title": text(e.title), "detail": text(e.detail), "who": text(e.who), "shared_under": text(e.shared_under)}
        for e in entries
    ]

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
        if not may_manage_case(request.user, case):
            raise PermissionDenied("Only the key worker may pull people into this case.")
        invitee = grant_invitees_for(request.user, case).filter(username=params["username"]).first()
        if invitee is None:
            return Response({"username": ["Nobody who may be pulled into this case has this username."]}, status=400)
        try:
            grant = services.grant_invite(
                actor=request.user, case=case, invitee=invitee, purpose=params["purpose"],
                purpose_code=params["purpose_code"], ends_on=params["ends_on"],
                may_see=params.get("may_see"), may_add=params.get("may_add"), ip=client_ip(request),
            )
        except ValidationError as error:
            return _invalid(error)
        return Response({"id": grant.pk, **GrantSerializer(grant).data}, status=status.HTTP_201_CREATED)


class GrantDetail(APIView):
    @extend_schema(responses={200: GrantSerializer, **ERRORS})
    def get(self, request, pk: int, grant_pk: int):
        """One pull-in grant: the case team sees any; an invitee their own. Its ETag is its version."""
        case = case_for(request.user, pk)
        grant = grant_for(request.user, case, grant_pk)
        return _tagged(GrantSerializer(grant).data, grant.version)

    @extend_schema(parameters=[IF_MATCH], responses={204: None, **VERSION_ERRORS})
    def delete(self, request, pk: int, grant_pk: int):
        """Revoke the grant (the key worker): the invitee's next request is refused.

        If-Match (optional) names the version read; a stale one gets 409.
        """
        case = case_for(request.user, pk)
        grant = grant_for(request.user, case, grant_pk)
        try:
            version = _expected_version(request, None, required=False)
            services.grant_revoke(actor=request.user, grant=grant, expected_version=version, ip=client_ip(request))
        except VersionError as error:
            return error.response
        except Conflict as error:
            return _conflict(error, GrantSerializer(error.current).data)
        except ValidationError as error:
            return _invalid(error)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GrantAnswer(APIView):
    answer = "accept"

    @extend_schema(request=GrantAnswerSerializer, parameters=[IF_MATCH],
                   responses={200: GrantSerializer, **VERSION_ERRORS})
    def post(self, request, pk: int, grant_pk: int):
        """Accept (or decline) an invitation addressed to the caller; the version read is optional."""
        grant = invitation_for(request.user, pk, grant_pk)
        body = GrantAnswerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        service = services.grant_accept if self.answer == "accept" else services.grant_decline
        try:
            version = _expected_version(request, body.validated_data.get("version"), required=False)
            grant = service(actor=request.user, grant=grant, expected_version=version, ip=client_ip(request))
        except VersionError as error:
            return error.response
        except Conflict as error:
            return _conflict(error, GrantSerializer(error.current).data)
        except ValidationError as error:
            return _invalid(error)
        return _tagged(GrantSerializer(grant).data, grant.version)
