"""Refusals that say nothing: permission is checked before existence, so 403 and 404 reveal no ids."""

import pytest

from onecase.accounts.models import Role
from onecase.people.models import AgencyPerson, Person, PersonLink
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_subject_access_export_refuses_an_existing_and_a_missing_person_alike(client):
    police, fire = AgencyFactory(code="POLICE"), AgencyFactory(code="FIRE")
    person = Person.objects.create()
    record = AgencyPerson.objects.create(agency=police, person_ref="P1", family_name="Held")
    PersonLink.objects.create(agency_person=record, person=person, match_probability=0.99)
    sign_in(client, UserFactory(agency=fire, role=Role.DPO))
    existing = client.get(f"/people/{person.pk}/subject-access.zip")
    missing = client.get(f"/people/{person.pk + 1000}/subject-access.zip")
    assert existing.status_code == missing.status_code == 403
    sign_in(client, UserFactory(agency=police, role=Role.DPO))
    assert client.get(f"/people/{person.pk}/subject-access.zip").status_code == 200
