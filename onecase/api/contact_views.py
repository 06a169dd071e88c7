"""Contacts sent one at a time by an agency's own system. Thin: the service checks, loads and audits."""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from onecase.audit.services import client_ip
from onecase.contacts.rules import may_log_contacts
from onecase.contacts.services import contact_log
from onecase.imports.contact_format import CLEAN_FIELDS, MAX_LENGTH, REQUIRED, normalise_agency_code

HELP = {
    "record_id": "Your system's own id for the contact. Sending the same id again updates that contact.",
    "person_ref": "Your system's own id for the person.",
    "occurred_at": "ISO 8601 date or date-time; without an offset, UK local time. From 1900 to a day ahead.",
    "contact_type": "Your system's type of contact, e.g. parcel or asb_report.",
    "date_of_birth": "YYYY-MM-DD.",
    "nhs_number": "10 digits (spaces or hyphens allowed).",
    "presenting_need": "What the person said they needed, in their own words.",
}


# The canonical contact format (docs/contact-format.md), for the schema: the view checks a body with
# the same checks as an imported file's rows.
ContactRecordSerializer = type("ContactRecordSerializer", (serializers.Serializer,), {
    name: serializers.CharField(required=name in REQUIRED, allow_blank=name not in REQUIRED,
                                max_length=MAX_LENGTH.get(name), help_text=HELP.get(name, ""))
    for name in CLEAN_FIELDS
})


class ContactLoggedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    record_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged"])
    linking = serializers.ChoiceField(
        choices=["now", "queued"],
        help_text="now: the contact is on its person's chronology already; queued: linkage will place it shortly.",
    )


def _bad(errors: dict[str, list[str]]) -> Response:
    """400 naming each field at fault: {field: [reasons], "detail": "field: reason; ..."}."""
    detail = "; ".join(f"{name}: {reason}" if name != NON_FIELD_ERRORS else reason
                       for name, reasons in errors.items() for reason in reasons)
    return Response({**errors, "detail": detail}, status=status.HTTP_400_BAD_REQUEST)


class ContactLog(APIView):
    """Log one contact for the agency of the token's user (never one named in the body), checked as a
    row of an imported file. Idempotent on (agency, record_id): 201 when created, 200 when it was
    there already (updated as a re-import would, or unchanged)."""

    @extend_schema(request=ContactRecordSerializer, responses={
        201: ContactLoggedSerializer, 200: ContactLoggedSerializer, 400: OpenApiTypes.OBJECT,
        403: OpenApiTypes.OBJECT,
    })
    def post(self, request):
        if not may_log_contacts(request.user):
            raise PermissionDenied("Your role does not log contacts.")
        body = request.data
        if not isinstance(body, dict):
            return _bad({NON_FIELD_ERRORS: ["Send one contact as a JSON object."]})
        errors: dict[str, list[str]] = {}
        record: dict[str, str] = {}
        own = normalise_agency_code(request.user.agency.code)
        for name, value in body.items():
            if name == "agency":
                if value not in (None, "") and normalise_agency_code(str(value)) != own:
                    errors[name] = ["is the agency of your API token's user: leave it out"]
            elif name not in CLEAN_FIELDS:
                errors[name] = ["is not a field of the contact format"]
            elif value is None:
                record[name] = ""
            elif isinstance(value, bool) or not isinstance(value, str | int):
                errors[name] = ["must be text"]
            else:
                record[name] = str(value)
        if errors:
            return _bad(errors)
        try:
            logged = contact_log(actor=request.user, record=record, via="api", ip=client_ip(request))
        except ValidationError as error:
            return _bad(error.message_dict)
        state = "created" if logged.created else "updated" if logged.updated else "unchanged"
        data = {"id": logged.contact.pk, "record_id": logged.contact.record_id, "status": state,
                "linking": logged.linking}
        return Response(data, status=status.HTTP_201_CREATED if logged.created else status.HTTP_200_OK)
