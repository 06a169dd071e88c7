"""API v1. Every view starts from the same scoped selectors as the pages."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from onecase.audit.services import client_ip
from onecase.contacts.demand import KEYS, demand_search
from onecase.contacts.rules import may_read_demand_reports
from onecase.imports.jobs import jobs_visible_to
from onecase.imports.models import ImportJob
from onecase.reports.demand_reports import failure_demand_read
from onecase.reports.selectors import agency_counts_for
from onecase.sharing.rules import may_read_audit
from onecase.sharing.selectors import audit_rows_read, audit_trail_for


class AgencyCountSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    sector = serializers.CharField()
    contacts = serializers.IntegerField()
    source_people = serializers.IntegerField()


class AgencyCountsView(APIView):
    """Agencies the caller may count, with contact and agency-person counts."""

    @extend_schema(responses=AgencyCountSerializer(many=True))
    def get(self, request):
        rows = [
            {
                "code": row["agency"].code,
                "name": row["agency"].name,
                "sector": row["agency"].sector,
                "contacts": row["contacts"],
                "source_people": row["source_people"],
            }
            for row in agency_counts_for(request.user)
        ]
        return Response(AgencyCountSerializer(rows, many=True).data)


class ImportJobSerializer(serializers.ModelSerializer):
    agency = serializers.SlugRelatedField(slug_field="code", read_only=True)
    status = serializers.CharField(read_only=True)

    class Meta:
        model = ImportJob
        fields = [
            "id", "agency", "original_name", "status", "total_rows", "processed_rows", "created_count",
            "updated_count", "unchanged_count", "errors", "warnings", "created_at", "started_at", "finished_at",
        ]


class ImportJobList(ListAPIView):
    """Import jobs the caller may see (their agency's, or all for the partnership)."""

    serializer_class = ImportJobSerializer

    def get_queryset(self):
        return jobs_visible_to(self.request.user).select_related("agency").order_by("-created_at", "-pk")


@extend_schema(responses={200: ImportJobSerializer, 404: OpenApiTypes.OBJECT})
class ImportJobDetail(RetrieveAPIView):
    """One import job: its status, progress and any problems (line and column)."""

    serializer_class = ImportJobSerializer

    def get_object(self):
        return get_object_or_404(jobs_visible_to(self.request.user).select_related("agency"), pk=self.kwargs["pk"])


class DemandQuery(serializers.Serializer):
    by = serializers.ChoiceField(choices=sorted(KEYS), default="household")
    top = serializers.IntegerField(min_value=1, max_value=1000, default=20)
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)
    order = serializers.ChoiceField(choices=["contacts", "cost"], default="contacts")


class DemandRow(serializers.Serializer):
    household_id = serializers.IntegerField(required=False)
    person_id = serializers.IntegerField(required=False)
    address_id = serializers.IntegerField(required=False)
    label = serializers.CharField()
    contacts_total = serializers.IntegerField()
    contacts_by_agency = serializers.DictField(child=serializers.IntegerField())
    distinct_agencies = serializers.IntegerField()
    first_contact = serializers.CharField()
    last_contact = serializers.CharField()
    cost_gbp = serializers.CharField()
    failure_demand_share = serializers.FloatField()
    failure_cost_gbp = serializers.CharField(help_text="Cost of the failure-demand contacts: Σ contacts × unit cost.")
    key_worker = serializers.CharField(allow_null=True)
    flags = serializers.ListField(child=serializers.CharField())


class DemandView(APIView):
    """Households, people or addresses ranked by demand across the agencies the caller may count."""

    @extend_schema(
        parameters=[
            OpenApiParameter("by", OpenApiTypes.STR, enum=sorted(KEYS)),
            OpenApiParameter("top", {"type": "integer", "minimum": 1, "maximum": 1000}),
            OpenApiParameter("since", OpenApiTypes.DATE),
            OpenApiParameter("until", OpenApiTypes.DATE),
            OpenApiParameter("order", OpenApiTypes.STR, enum=["contacts", "cost"]),
        ],
        responses={200: DemandRow(many=True), 400: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        query = DemandQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        rows = demand_search(
            request.user, ip=client_ip(request), api=True, by=params["by"], top=params["top"],
            since=params.get("since"), until=params.get("until"), order=params["order"],
        )
        return Response(rows)


class PeriodQuery(serializers.Serializer):
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"until": "The end date must be the same as or after the start date."})
        return attrs


class FailureAgencyRow(serializers.Serializer):
    agency = serializers.CharField(source="code", help_text="The agency's code.")
    name = serializers.CharField(source="label")
    contacts = serializers.IntegerField()
    failure_demand = serializers.IntegerField(source="failures")
    failure_demand_share = serializers.FloatField(source="share")
    failure_cost_gbp = serializers.DecimalField(source="failure_cost", max_digits=14, decimal_places=2,
                                                help_text="Σ failure-demand contacts × unit cost.")


class FailureMonthRow(serializers.Serializer):
    month = serializers.CharField(source="label", help_text="YYYY-MM, UK time.")
    contacts = serializers.IntegerField()
    failure_demand = serializers.IntegerField(source="failures")
    failure_demand_share = serializers.FloatField(source="share")
    failure_cost_gbp = serializers.DecimalField(source="failure_cost", max_digits=14, decimal_places=2)
    full_repeat_history = serializers.SerializerMethodField()

    def get_full_repeat_history(self, row) -> bool:
        return not row.less_history


class FailureAgencyMonthRow(serializers.Serializer):
    month = serializers.CharField()
    agency = serializers.CharField(source="code")
    failure_demand = serializers.IntegerField(source="failures")
    failure_cost_gbp = serializers.DecimalField(source="cost", max_digits=14, decimal_places=2)


class FailureDemandSerializer(serializers.Serializer):
    failure_cost_gbp = serializers.DecimalField(source="cost", max_digits=14, decimal_places=2)
    unpriced_failure_demand = serializers.IntegerField(
        source="unpriced", help_text="Failure-demand contacts of a type with no unit cost: they add nothing."
    )
    by_agency = FailureAgencyRow(source="agencies", many=True)
    by_month = FailureMonthRow(source="months", many=True)
    by_agency_and_month = FailureAgencyMonthRow(source="agency_months", many=True)


class FailureDemandView(APIView):
    """Failure demand across the contacts the caller may count: its share and its cost (contacts × unit
    cost) per agency, per month and per agency and month."""

    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATE, description="First UK day, YYYY-MM-DD."),
            OpenApiParameter("until", OpenApiTypes.DATE, description="Last UK day, YYYY-MM-DD."),
        ],
        responses={200: FailureDemandSerializer, 400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        if not may_read_demand_reports(request.user):
            raise PermissionDenied("Auditors read the audit trail, not the demand ledger.")
        query = PeriodQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        report = failure_demand_read(request.user, ip=client_ip(request), since=params.get("since"),
                                     until=params.get("until"), api=True)
        return Response(FailureDemandSerializer(report).data)


class AuditQuery(serializers.Serializer):
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)
    user = serializers.CharField(required=False, max_length=150)


class AuditEventSerializer(serializers.Serializer):
    user = serializers.CharField()
    agency = serializers.CharField()
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    purpose = serializers.CharField()
    at = serializers.DateTimeField()


@extend_schema(
    parameters=[
        OpenApiParameter("since", OpenApiTypes.DATE, description="First UK day, YYYY-MM-DD."),
        OpenApiParameter("until", OpenApiTypes.DATE, description="Last UK day, YYYY-MM-DD."),
        OpenApiParameter("user", OpenApiTypes.STR, description="Only this user's events (a username)."),
    ],
    responses={200: AuditEventSerializer(many=True), 400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT},
)
class AuditEventList(ListAPIView):
    """The audit trail, oldest first: all of it for the partnership and auditors, a DPO's own agency's
    staff's for a DPO. Reading it is audited (counts only)."""

    serializer_class = AuditEventSerializer

    def get_queryset(self):
        if not may_read_audit(self.request.user):
            raise PermissionDenied("The audit trail is for data protection officers and auditors.")
        query = AuditQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        return audit_trail_for(self.request.user, since=params.get("since"), until=params.get("until"),
                               username=params.get("user", ""))

    def list(self, request, *args, **kwargs):
        events = self.get_queryset()
        page = self.paginate_queryset(events)
        return self.get_paginated_response(audit_rows_read(request.user, page, ip=client_ip(request)))
