"""Finding a person. Thin: ``linkage.search.person_search_read`` scopes, searches and records the search."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from onecase.audit.services import client_ip
from onecase.linkage.rules import may_search_people
from onecase.linkage.search import (
    DEFAULT_PURPOSE,
    MAX_RESULTS,
    PURPOSES,
    RESULTS,
    SearchInvalid,
    person_search_read,
)

DATE_INVALID = "Enter the date of birth as YYYY-MM-DD, for example 1985-03-27"


class PersonSearchQuery(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=300)
    date_of_birth = serializers.DateField(required=False, input_formats=["%Y-%m-%d"],
                                          error_messages={"invalid": DATE_INVALID})
    postcode = serializers.CharField(required=False, allow_blank=True, max_length=30)
    nhs_number = serializers.CharField(required=False, allow_blank=True, max_length=30)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=200)
    purpose = serializers.ChoiceField(choices=sorted(PURPOSES), default=DEFAULT_PURPOSE)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_RESULTS, default=RESULTS)


class PersonFoundSerializer(serializers.Serializer):
    person_id = serializers.IntegerField()
    household_id = serializers.IntegerField(
        allow_null=True, help_text="The person's household, or null when the caller may not identify it.")
    name = serializers.CharField(help_text="The person's name, as the records the caller may see spell it most.")
    date_of_birth = serializers.DateField(allow_null=True, help_text="From the best-matching record.")
    address = serializers.CharField(help_text="The household's address; empty when the household is null.")
    agencies = serializers.ListField(child=serializers.CharField(), help_text="Agencies involved the caller may see.")
    score = serializers.FloatField(help_text="How well the best record matches, 0 to 1: 1 agrees exactly on "
                                             "every field searched.")
    matched_on = serializers.ListField(child=serializers.CharField(),
                                       help_text="How each field searched matched, in words.")


def _bad(errors: dict[str, list[str]]) -> Response:
    """400 naming each field at fault: {field: [reasons], "detail": "field: reason; ..."}."""
    detail = "; ".join(f"{name}: {reason}" if name != "search" else reason
                       for name, reasons in errors.items() for reason in reasons)
    return Response({**errors, "detail": detail}, status=status.HTTP_400_BAD_REQUEST)


class PersonSearch(APIView):
    """People who match, best first, among those the caller may identify (ADR 13). Any one of name,
    date_of_birth, postcode, nhs_number or reference is enough; a name may be misspelt, a nickname,
    or family name first. Each search is recorded with its purpose and the fields used, never the values."""

    @extend_schema(
        parameters=[
            OpenApiParameter("name", OpenApiTypes.STR, description="Full name, or family name only."),
            OpenApiParameter("date_of_birth", OpenApiTypes.DATE, description="YYYY-MM-DD."),
            OpenApiParameter("postcode", OpenApiTypes.STR, description="A full UK postcode."),
            OpenApiParameter("nhs_number", OpenApiTypes.STR, description="10 digits (spaces allowed)."),
            OpenApiParameter("reference", OpenApiTypes.STR, description="A person's reference in an agency's system."),
            OpenApiParameter("purpose", OpenApiTypes.STR, enum=sorted(PURPOSES),
                             description="Why you are searching: " + "; ".join(f"{k}: {v}" for k, v in
                                                                                PURPOSES.items())),
            OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS}),
        ],
        responses={200: PersonFoundSerializer(many=True), 400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        if not may_search_people(request.user):
            raise PermissionDenied("Searching for people is for staff who work with people's records.")
        query = PersonSearchQuery(data=request.query_params)
        if not query.is_valid():
            return _bad({name: [str(e) for e in errors] for name, errors in query.errors.items()})
        params = query.validated_data
        try:
            results = person_search_read(
                request.user, name=params.get("name", ""), date_of_birth=params.get("date_of_birth"),
                postcode=params.get("postcode", ""), nhs_number=params.get("nhs_number", ""),
                reference=params.get("reference", ""), purpose=params["purpose"], limit=params["limit"],
                ip=client_ip(request), api=True,
            )
        except SearchInvalid as invalid:
            return _bad({name or "search": [message] for name, message in invalid.problems.items()})
        rows = [{
            "person_id": r.person_id, "household_id": r.household_id, "name": r.name,
            "date_of_birth": r.date_of_birth, "address": r.address, "agencies": r.agencies, "score": r.score,
            "matched_on": r.matched_on,
        } for r in results]
        return Response(PersonFoundSerializer(rows, many=True).data)

