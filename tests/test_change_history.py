"""Change history of the demand ledger and agreements, kept by PostgreSQL triggers."""

import pytest
from django.apps import apps
from django.db import connection

from onecase.contacts.models import Contact
from onecase.imports.services import import_contacts

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="history triggers run on PostgreSQL"),
]


def test_bulk_and_queryset_updates_are_kept(write_file):
    path = write_file("p.csv", "record_id,person_ref,occurred_at,contact_type\nR1,P1,2024-01-01,call\nR2,P1,2024-01-02,call\n")
    import_contacts(actor=None, path=path, agency_code="POLICE")
    Contact.objects.update(demand_class="failure")  # one statement, two rows
    import_contacts(actor=None, path=write_file("q.csv", path.read_text().replace("call", "visit")), agency_code="POLICE")
    Contact.objects.filter(record_id="R2").delete()
    events = apps.get_model("contacts", "ContactEvent").objects.order_by("pgh_id")
    labels = [e.pgh_label for e in events]
    assert labels.count("update") == 4  # the bulk update and the re-import's upsert, two rows each
    assert labels.count("delete") == 1
    assert {e.contact_type for e in events if e.pgh_label == "update"} == {"call", "visit"}
