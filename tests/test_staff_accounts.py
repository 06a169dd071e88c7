"""Staff are switched off, never deleted, so the audit trail keeps who did what."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db.models import ProtectedError

from onecase.accounts.models import Role, User
from onecase.accounts.services import user_deactivate
from onecase.sharing.models import AuditEvent
from onecase.sharing.services import audit_record
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser():
    return UserFactory(username="root", role=Role.PARTNERSHIP_ADMIN, agency=AgencyFactory(code="PARTNERSHIP"),
                       is_staff=True, is_superuser=True)


@pytest.fixture
def leaver():
    user = UserFactory(username="leaver", agency=AgencyFactory(code="POLICE"))
    audit_record(user=user, action=AuditEvent.Action.VIEW, object_type="person", object_id=7)
    return user


def test_the_admin_offers_no_way_to_delete_a_user(client, superuser, leaver):
    sign_in(client, superuser)
    assert client.get(f"/admin/accounts/user/{leaver.pk}/delete/").status_code == 403
    assert client.post(f"/admin/accounts/user/{leaver.pk}/delete/", {"post": "yes"}).status_code == 403
    listing = client.get("/admin/accounts/user/").content.decode()
    assert "delete_selected" not in listing and "Switch off the selected accounts" in listing
    client.post("/admin/accounts/user/", {"action": "delete_selected", "_selected_action": [leaver.pk], "post": "yes"})
    assert User.objects.filter(pk=leaver.pk).exists()
    assert AuditEvent.objects.filter(user_id=leaver.pk, object_id="7").count() == 1


def test_a_delete_can_never_rewrite_the_audit_trail(leaver):
    with pytest.raises(ProtectedError):
        leaver.delete()
    assert AuditEvent.objects.get(object_id="7").user_id == leaver.pk


def test_the_admin_switches_accounts_off_through_an_audited_service(client, superuser, leaver):
    sign_in(client, superuser)
    response = client.post("/admin/accounts/user/", {"action": "deactivate", "_selected_action": [leaver.pk]})
    assert response.status_code == 302
    leaver.refresh_from_db()
    assert not leaver.is_active
    event = AuditEvent.objects.get(object_type="user", object_id=str(leaver.pk), detail__deactivated=True)
    assert event.user_id == superuser.pk
    assert AuditEvent.objects.get(object_id="7").user_id == leaver.pk


def test_agency_administrators_switch_off_only_their_own_agencys_staff(leaver):
    police_admin = UserFactory(agency=leaver.agency, role=Role.AGENCY_ADMIN)
    fire_admin = UserFactory(agency=AgencyFactory(code="FIRE"), role=Role.AGENCY_ADMIN)
    with pytest.raises(PermissionDenied, match="own agency"):
        user_deactivate(actor=fire_admin, user=leaver)
    assert User.objects.get(pk=leaver.pk).is_active
    user_deactivate(actor=police_admin, user=leaver)
    assert not User.objects.get(pk=leaver.pk).is_active
