"""Who may break the glass: a partnership setting per agency and role, with statutory defaults."""

import importlib

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError

from onecase.accounts.models import Role
from onecase.accounts.services import agency_create
from onecase.people.models import Person
from onecase.sharing.models import AuditEvent, BreakGlass, BreakGlassRole
from onecase.sharing.rules import may_break_glass
from onecase.sharing.services import break_glass, break_glass_role_set
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db


def allowed_roles(agency):
    return set(BreakGlassRole.objects.filter(agency=agency, allowed=True).values_list("role", flat=True))


def test_new_agencies_get_the_defaults():
    police = agency_create(actor=None, code="POLICE", name="City Police", sector="police")
    council = agency_create(actor=None, code="CSC", name="Children's social care", sector="council")
    foodbank = agency_create(actor=None, code="FOODBANK", name="Food bank", sector="voluntary")
    assert allowed_roles(police) == allowed_roles(council) == {Role.KEY_WORKER, Role.PRACTITIONER}
    assert allowed_roles(foodbank) == set()
    assert BreakGlassRole.objects.filter(agency=foodbank, role=Role.VOLUNTARY_PARTNER, allowed=False).exists()
    assert AuditEvent.objects.filter(object_type="break_glass_role", object_id=str(police.pk),
                                     detail={"defaults": 6, "allowed": 2}).count() == 1


def test_the_data_migration_gives_existing_agencies_the_same_defaults():
    police, charity = AgencyFactory(code="POLICE", sector="police"), AgencyFactory(code="CAB", sector="voluntary")
    migration = importlib.import_module("onecase.sharing.migrations.0006_break_glass_roles")
    migration.create_defaults(apps, None)
    assert allowed_roles(police) == {Role.KEY_WORKER, Role.PRACTITIONER}
    assert allowed_roles(charity) == set()


def test_analysts_auditors_and_volunteers_may_not_by_default():
    police = agency_create(actor=None, code="POLICE", name="City Police", sector="police")
    foodbank = agency_create(actor=None, code="FOODBANK", name="Food bank", sector="voluntary")
    assert may_break_glass(UserFactory(agency=police, role=Role.KEY_WORKER))
    assert not may_break_glass(UserFactory(agency=police, role=Role.FRONT_DOOR))
    assert not may_break_glass(UserFactory(agency=police, role=Role.ANALYST))
    assert not may_break_glass(UserFactory(agency=police, role=Role.AUDITOR))
    volunteer = UserFactory(agency=foodbank, role=Role.VOLUNTARY_PARTNER)
    assert not may_break_glass(volunteer)
    with pytest.raises(PermissionDenied):
        break_glass(actor=volunteer, person=Person.objects.create(), reason="An emergency, stated in full",
                    owner_agency_ids=[police.pk])
    assert not BreakGlass.objects.exists()


def test_only_partnership_administrators_change_the_setting_and_never_for_analysts():
    police = agency_create(actor=None, code="POLICE", name="City Police", sector="police")
    with pytest.raises(PermissionDenied):
        break_glass_role_set(actor=UserFactory(agency=police, role=Role.AGENCY_ADMIN), agency=police,
                             role=Role.FRONT_DOOR, allowed=True)
    admin = UserFactory(agency=AgencyFactory(code="PARTNERSHIP"), role=Role.PARTNERSHIP_ADMIN)
    with pytest.raises(ValidationError):
        break_glass_role_set(actor=admin, agency=police, role=Role.ANALYST, allowed=True)
    call_handler = UserFactory(agency=police, role=Role.FRONT_DOOR)
    break_glass_role_set(actor=admin, agency=police, role=Role.FRONT_DOOR, allowed=True)
    assert may_break_glass(call_handler)


def test_an_agency_added_in_the_admin_pages_gets_the_defaults(client):
    from tests.auth import sign_in

    root = UserFactory(agency=AgencyFactory(code="PARTNERSHIP"), role=Role.PARTNERSHIP_ADMIN, is_staff=True,
                       is_superuser=True)
    sign_in(client, root)
    response = client.post("/admin/accounts/agency/add/", {"code": "FIRE", "name": "Fire and rescue",
                                                           "sector": "fire", "contact_route": ""})
    assert response.status_code == 302
    assert allowed_roles(apps.get_model("accounts", "Agency").objects.get(code="FIRE")) == {
        Role.KEY_WORKER, Role.PRACTITIONER}


def test_an_agency_saved_in_the_admin_pages_goes_through_agency_create_and_is_audited(client):
    from tests.auth import sign_in

    root = UserFactory(agency=AgencyFactory(code="PARTNERSHIP"), role=Role.PARTNERSHIP_ADMIN, is_staff=True,
                       is_superuser=True)
    sign_in(client, root)
    Agency = apps.get_model("accounts", "Agency")
    refused = client.post("/admin/accounts/agency/add/", {"code": "fire service!", "name": "Fire", "sector": "fire",
                                                          "contact_route": ""})
    assert refused.status_code == 200 and not Agency.objects.filter(name="Fire").exists()
    client.post("/admin/accounts/agency/add/", {"code": "fire", "name": "Fire", "sector": "fire", "contact_route": ""})
    fire = Agency.objects.get(code="FIRE")  # the code normalised as imports use it
    client.post(f"/admin/accounts/agency/{fire.pk}/change/", {"code": "OTHER", "name": "Fire and rescue",
                                                              "sector": "fire", "contact_route": "01234 567890"})
    fire.refresh_from_db()
    assert (fire.code, fire.name, fire.contact_route) == ("FIRE", "Fire and rescue", "01234 567890")
    events = AuditEvent.objects.filter(object_type="agency", object_id=str(fire.pk), user=root)
    assert [e.detail["created"] for e in events.order_by("id")] == [True, False]
    assert client.get(f"/admin/accounts/agency/{fire.pk}/delete/").status_code == 403
