"""Staff are switched off, never deleted, so the audit trail keeps who did what; every change is audited."""

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.db.models import ProtectedError

from onecase.accounts.models import Role, User
from onecase.accounts.services import user_create, user_deactivate, user_update
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


def _change_form(user, **changes):
    """The user admin's change form as a browser posts it."""
    form = {
        "username": user.username, "first_name": user.first_name, "last_name": user.last_name, "email": user.email,
        "is_active": "on", "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"), "last_login_0": "", "last_login_1": "",
        "agency": user.agency_id, "role": user.role,
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def test_the_admin_changes_an_account_through_an_audited_service(client, superuser, leaver):
    fire = AgencyFactory(code="FIRE")
    sign_in(client, superuser)
    response = client.post(f"/admin/accounts/user/{leaver.pk}/change/", _change_form(
        leaver, first_name="Priya", role=Role.KEY_WORKER, agency=fire.pk, is_active=None))
    assert response.status_code == 302, response.content.decode()[:3000]
    leaver.refresh_from_db()
    assert (leaver.first_name, leaver.role, leaver.agency_id, leaver.is_active) == ("Priya", Role.KEY_WORKER,
                                                                                   fire.pk, False)
    event = AuditEvent.objects.get(object_type="user", object_id=str(leaver.pk), detail__changed__isnull=False)
    assert event.user_id == superuser.pk
    # The names of the fields changed, never their values.
    assert event.detail == {"changed": ["agency", "first_name", "is_active", "role"]}


def test_the_admin_adds_an_account_through_an_audited_service(client, superuser):
    police = AgencyFactory(code="POLICE")
    sign_in(client, superuser)
    response = client.post("/admin/accounts/user/add/", {
        "username": "newstarter", "usable_password": "true", "password1": "a long and unusual passphrase 7",
        "password2": "a long and unusual passphrase 7", "agency": police.pk, "role": Role.PRACTITIONER,
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    user = User.objects.get(username="newstarter")
    assert (user.agency_id, user.role) == (police.pk, Role.PRACTITIONER)
    assert user.check_password("a long and unusual passphrase 7")
    event = AuditEvent.objects.get(object_type="user", object_id=str(user.pk))
    assert event.user_id == superuser.pk and event.detail["created"] is True
    assert "passphrase" not in json.dumps(event.detail)


def test_agency_administrators_change_only_their_own_staff_and_never_above_their_rights(leaver):
    police_admin = UserFactory(agency=leaver.agency, role=Role.AGENCY_ADMIN)
    fire = AgencyFactory(code="FIRE")
    fire_admin = UserFactory(agency=fire, role=Role.AGENCY_ADMIN)
    assert user_update(actor=police_admin, user=leaver, last_name="Okafor", role=Role.KEY_WORKER) == [
        "last_name", "role"]
    for actor, changes in [(fire_admin, {"last_name": "X"}), (police_admin, {"role": Role.PARTNERSHIP_ADMIN}),
                           (police_admin, {"agency": fire}), (police_admin, {"is_superuser": True})]:
        with pytest.raises(PermissionDenied):
            user_update(actor=actor, user=User.objects.get(pk=leaver.pk), **changes)
    leaver.refresh_from_db()
    assert (leaver.last_name, leaver.role, leaver.agency_id, leaver.is_superuser) == (
        "Okafor", Role.KEY_WORKER, police_admin.agency_id, False)
    assert AuditEvent.objects.filter(object_type="user", detail__changed__isnull=False).count() == 1


def test_a_password_set_in_the_admin_is_audited_without_its_value(client, superuser, leaver):
    sign_in(client, superuser)
    response = client.post(f"/admin/accounts/user/{leaver.pk}/password/", {
        "usable_password": "true", "password1": "another long passphrase 42", "password2": "another long passphrase 42",
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    leaver.refresh_from_db()
    assert leaver.check_password("another long passphrase 42")
    event = AuditEvent.objects.get(object_type="user", object_id=str(leaver.pk), detail__changed__isnull=False)
    assert event.user_id == superuser.pk and event.detail == {"changed": ["password"]}


def test_agency_administrators_create_accounts_only_in_their_agency_and_below_partnership(leaver):
    police_admin = UserFactory(agency=leaver.agency, role=Role.AGENCY_ADMIN)
    fire = AgencyFactory(code="FIRE")
    for agency, role in [(leaver.agency, Role.PARTNERSHIP_ADMIN), (fire, Role.KEY_WORKER), (None, Role.AUDITOR)]:
        with pytest.raises(PermissionDenied):
            user_create(actor=police_admin, username=f"new-{role}", agency=agency, role=role, password=None)
    assert not User.objects.filter(username__startswith="new-").exists()
    made = user_create(actor=police_admin, username="new-worker", agency=leaver.agency, role=Role.KEY_WORKER,
                       password=None)
    assert AuditEvent.objects.get(object_type="user", object_id=str(made.pk)).user == police_admin
