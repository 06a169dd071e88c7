"""Audit events are append-only, enforced by the database itself: by triggers on PostgreSQL and on SQLite."""

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from onecase.sharing.models import AuditEvent
from onecase.sharing.services import audit_record

pytestmark = pytest.mark.django_db

STATEMENTS = [
    "UPDATE sharing_auditevent SET purpose = 'edited'",
    "DELETE FROM sharing_auditevent",
    pytest.param(
        "TRUNCATE sharing_auditevent",
        marks=pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no TRUNCATE"),
    ),
]


@pytest.mark.parametrize("statement", STATEMENTS)
def test_the_database_refuses_to_change_audit_rows(statement):
    event = audit_record(user=None, action=AuditEvent.Action.VIEW, object_type="person", object_id=1)
    with pytest.raises(DatabaseError, match="append-only|Cannot|cannot|Protected"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    event.refresh_from_db()
    assert event.purpose == ""
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_orm_cannot_delete_or_bulk_update_audit_rows():
    event = audit_record(user=None, action=AuditEvent.Action.VIEW, object_type="person", object_id=1)
    with pytest.raises(DatabaseError):
        with transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).update(purpose="edited")
    with pytest.raises(DatabaseError):
        with transaction.atomic():
            event.delete()
    assert AuditEvent.objects.get(pk=event.pk).purpose == ""
