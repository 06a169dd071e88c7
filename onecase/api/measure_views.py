"""/api/v1/measures/: the partnership's measures, each with its process behaviour (XmR) chart and its
forecast. Aggregates only, for the partnership and analysts (``measures.rules.may_see_measures``)."""

import re

from django.core.exceptions import PermissionDenied
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from onecase.audit.services import client_ip
from onecase.measures.models import Measure
from onecase.measures.rules import may_see_measures
from onecase.measures.selectors import forecast_json, measure_json, measure_read, measures_visible_to
from onecase.measures.xmr import to_json

BASELINE = re.compile(r"^(\d{4}-(?:\d{2}|W\d{2})):(\d{4}-(?:\d{2}|W\d{2}))$")
REFUSED = "Measures are partnership aggregates: the partnership and analysts see them."


class MeasureSerializer(serializers.Serializer):
    slug = serializers.CharField(help_text="The measure's code, as the command line takes it.")
    name = serializers.CharField()
    description = serializers.CharField()
    tier = serializers.IntegerField(help_text="1 the citizen's perspective, 2 front doors, 3 multi-agency.")
    owner = serializers.CharField(allow_null=True, help_text="The owning agency's code; null for the partnership.")
    period = serializers.ChoiceField(choices=["month", "week"])
    source = serializers.ChoiceField(choices=["ledger", "police"])
    statistic = serializers.CharField()
    version = serializers.IntegerField()
    filters = serializers.DictField()

    def to_representation(self, instance):
        return measure_json(instance)


class MeasureList(ListAPIView):
    """Every measure's definition, by tier. There is no target field, by design."""

    serializer_class = MeasureSerializer

    @extend_schema(responses={200: MeasureSerializer(many=True), 403: OpenApiTypes.OBJECT})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if not may_see_measures(self.request.user):
            raise PermissionDenied(REFUSED)
        return measures_visible_to(self.request.user)


def _read(request, slug: str, **options):
    if not may_see_measures(request.user):
        raise PermissionDenied(REFUSED)
    try:
        return measure_read(request.user, slug, ip=client_ip(request), api=True, **options)
    except Measure.DoesNotExist:
        raise Http404("No measure has that code.") from None


def _baselines(request) -> list[tuple[str, str]] | None:
    given = request.query_params.getlist("baseline")
    pairs = []
    for value in given:
        found = BASELINE.match(value.strip().upper())
        if not found or found.group(2) <= found.group(1):
            raise ValidationError({"baseline": f"{value!r}: write the first and last period as YYYY-MM:YYYY-MM."})
        pairs.append((found.group(1), found.group(2)))
    return pairs or None


class MeasureDetail(APIView):
    """A measure's definition, its values per period and its XmR chart: ``xmr`` has the first baseline's
    ``mean``, ``unpl`` and ``lnpl`` (natural process limits), ``url`` (the moving-range upper limit, not a
    web address), each baseline, and each point's value and signals. ``baseline`` (repeatable) replaces
    the recorded baselines for this answer."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "baseline",
                OpenApiTypes.STR,
                many=True,
                description="A baseline period FIRST:LAST, e.g. 2024-01:2024-12; repeat for more.",
            )
        ],
        responses={
            200: OpenApiTypes.OBJECT,
            400: OpenApiTypes.OBJECT,
            403: OpenApiTypes.OBJECT,
            404: OpenApiTypes.OBJECT,
        },
    )
    def get(self, request, slug: str):
        if not may_see_measures(request.user):
            raise PermissionDenied(REFUSED)
        baselines = _baselines(request)
        try:
            view = _read(request, slug, baselines=baselines, horizon=0, leading=False, strict=True)
        except ValueError as exc:
            raise ValidationError({"baseline": str(exc)}) from None
        return Response(
            {
                "measure": measure_json(view.measure),
                "series": [{"period": p, "value": v} for p, v in view.series],
                "baselines": [
                    {"start": b.start, "end": b.end, "reason": b.reason, "set_at": b.created_at} for b in view.baselines
                ],
                "note": view.note,
                "xmr": to_json(view.chart) if view.chart is not None else None,
            }
        )


class ForecastQuery(serializers.Serializer):
    months = serializers.IntegerField(min_value=1, max_value=36, default=6)


class MeasureForecast(APIView):
    """A measure's forecast by both methods (seasonal naive and exponential smoothing), each with its
    prediction interval and its error backtested on the last periods held out (MAE and MASE)."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "months",
                {"type": "integer", "minimum": 1, "maximum": 36},
                description="Periods ahead to forecast (default 6).",
            )
        ],
        responses={
            200: OpenApiTypes.OBJECT,
            400: OpenApiTypes.OBJECT,
            403: OpenApiTypes.OBJECT,
            404: OpenApiTypes.OBJECT,
        },
    )
    def get(self, request, slug: str):
        if not may_see_measures(request.user):
            raise PermissionDenied(REFUSED)
        query = ForecastQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        view = _read(request, slug, horizon=query.validated_data["months"], leading=False)
        return Response(
            {
                "measure": measure_json(view.measure),
                "history": [{"period": p, "value": v} for p, v in view.series],
                "forecasts": [forecast_json(f) for f in view.forecasts],
            }
        )
