"""/api/v1/impact and /api/v1/savings: a cohort's cost before, during and after its cases, and its
cost-benefit figures. Aggregates for the partnership and analysts; cases one by one as the sharing
tiers allow (``reports.selectors``)."""

from django.core.exceptions import PermissionDenied
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from onecase.audit.services import client_ip
from onecase.cases.impact import jsonable
from onecase.reports.impact_reports import GROUPINGS, SAVINGS_INPUTS, Cohort, CohortError, parse_savings_inputs
from onecase.reports.rules import may_read_impact, may_see_cohort_impact
from onecase.reports.selectors import impact_cohort_read, savings_read

COHORT_PARAMETERS = [
    OpenApiParameter("months", {"type": "integer", "minimum": 1, "maximum": 60},
                     description="Length of the before and after windows in calendar months (default 12)."),
    OpenApiParameter("opened_from", OpenApiTypes.DATE, description="Cases opened on or after this UK date."),
    OpenApiParameter("opened_to", OpenApiTypes.DATE, description="Cases opened on or before this UK date."),
    OpenApiParameter("agency", OpenApiTypes.STR, description="The key worker's agency code."),
    OpenApiParameter("need", OpenApiTypes.STR, description="A need category code."),
    OpenApiParameter("imported", OpenApiTypes.STR, enum=["yes", "no"],
                     description="Only cases imported from the old system (yes) or opened in OneCase (no)."),
]


class CohortQuery(serializers.Serializer):
    months = serializers.IntegerField(min_value=1, max_value=60, default=12)


def _cohort(request) -> tuple[Cohort, int]:
    query = CohortQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    try:
        return Cohort.from_mapping(request.query_params), query.validated_data["months"]
    except CohortError as exc:
        raise ValidationError({"detail": str(exc)}) from None


class ImpactView(APIView):
    """Cost per case before, during and after, for a cohort of cases: ``cases`` one by one (those the
    caller may see, by the sharing tiers) and ``totals`` (the partnership and analysts: the whole cohort).
    ``contacts`` and ``cost_gbp`` are the raw figures inside each window up to today; an after window not
    yet over has ``complete`` false and an ``annualised_cost_gbp`` of its own."""

    @extend_schema(parameters=[*COHORT_PARAMETERS, OpenApiParameter("by", OpenApiTypes.STR, enum=sorted(GROUPINGS))],
                   responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT})
    def get(self, request):
        if not may_read_impact(request.user):
            raise PermissionDenied("Only the partnership, analysts and case teams see impact figures.")
        cohort, months = _cohort(request)
        by = request.query_params.get("by") or "period"
        if by not in GROUPINGS:
            raise ValidationError({"by": f"one of {', '.join(sorted(GROUPINGS))}"})
        report = impact_cohort_read(request.user, cohort, months=months, by=by, ip=client_ip(request), api=True)
        return Response({**report.as_json(), "groups": jsonable(report.groups)})


class SavingsView(APIView):
    """The cohort savings report (HM Treasury / GMCA cost-benefit method): every input printed, present
    values by fiscal, economic and social value, NPV, financial and public-value return, payback year,
    who pays and who saves, and the matched comparison. Inputs may be changed for one report
    (percentages as percent). Aggregates only: the partnership and analysts."""

    @extend_schema(
        parameters=[*COHORT_PARAMETERS, *(OpenApiParameter(i.name, OpenApiTypes.NUMBER, description=i.hint)
                                          for i in SAVINGS_INPUTS)],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        if not may_see_cohort_impact(request.user):
            raise PermissionDenied("Only the partnership and analysts see savings reports.")
        cohort, months = _cohort(request)
        try:
            changes = parse_savings_inputs(request.query_params)
        except CohortError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        report = savings_read(request.user, cohort, months=months, changes=changes, ip=client_ip(request), api=True)
        return Response(report.as_json())
