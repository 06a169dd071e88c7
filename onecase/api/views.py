from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from onecase.reports.selectors import agency_counts_for


class AgencyCountSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    sector = serializers.CharField()
    contacts = serializers.IntegerField()
    source_people = serializers.IntegerField()


class AgencyCountsView(APIView):
    """Agencies the caller may see, with contact and agency-person counts."""

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
