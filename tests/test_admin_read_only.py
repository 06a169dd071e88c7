"""Agency records, person links, households and addresses are read in the admin pages, never
added, changed or deleted there.

Agency records stay as the agency sent them; links are undone on the review pages, never deleted;
households are formed by linkage and addresses by imports.
This holds for everyone, superusers and users holding every model permission included.
"""

import pytest
from django.contrib.auth.models import Permission
from django.forms.models import model_to_dict

from onecase.accounts.models import Role
from onecase.contacts.models import Contact
from onecase.imports.services import import_contacts
from onecase.people.models import Address, AgencyPerson, Household, Person, PersonLink
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db

CONTENT = "record_id,person_ref,occurred_at,contact_type,given_name\nR1,P1,2024-03-01,incident,Jon\n"
MODELS = [Contact, AgencyPerson, PersonLink, Household, Address]


@pytest.fixture
def rows(write_file):
    import_contacts(actor=None, path=write_file("police.csv", CONTENT), agency_code="POLICE")
    agency_person = AgencyPerson.objects.get()
    link = PersonLink.objects.create(agency_person=agency_person, person=Person.objects.create(),
                                     match_probability=0.97)
    address = Address.objects.create(postcode="ST1 1AA", number="1", street="high street", line="1 High Street")
    household = Household.objects.create(address=address)
    return {Contact: Contact.objects.get(), AgencyPerson: agency_person, PersonLink: link, Household: household,
            Address: address}


def _superuser():
    return UserFactory(username="root", role=Role.PARTNERSHIP_ADMIN, agency=AgencyFactory(code="PARTNERSHIP"),
                       is_staff=True, is_superuser=True)


def _partnership_admin_with_every_permission():
    user = UserFactory(username="partnership", role=Role.PARTNERSHIP_ADMIN, agency=AgencyFactory(code="PARTNERSHIP"),
                       is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__model__in=["contact", "agencyperson",
                                                                                 "personlink", "household",
                                                                                 "address"]))
    return user


@pytest.fixture(params=[_superuser, _partnership_admin_with_every_permission], ids=["superuser", "partnership"])
def admin_client(request, client):
    return sign_in(client, request.param())


def _snapshot(model):
    return sorted((model_to_dict(row) for row in model.objects.all()), key=lambda row: row["id"])


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_change_page_shows_the_row_read_only_with_no_save_button(admin_client, rows, model):
    page = admin_client.get(f"/admin/{model._meta.app_label}/{model._meta.model_name}/{rows[model].pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    assert "readonly" in html
    assert f"/{rows[model].pk}/delete/" not in html


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_posts_to_change_delete_and_add_are_refused_and_rows_stay(admin_client, rows, model):
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    obj = rows[model]
    before = _snapshot(model)
    edited = {key: value for key, value in model_to_dict(obj).items() if value is not None}
    edited.update({"record_id": "CHANGED", "person_ref": "CHANGED", "match_probability": "0.1", "line": "CHANGED",
                   "_save": "Save"})
    assert admin_client.post(f"{base}{obj.pk}/change/", edited).status_code == 403
    assert admin_client.get(f"{base}{obj.pk}/delete/").status_code == 403
    assert admin_client.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.post(f"{base}add/", edited).status_code == 403
    assert _snapshot(model) == before


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_list_offers_no_bulk_delete_and_a_posted_one_deletes_nothing(admin_client, rows, model):
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    listing = admin_client.get(base)
    assert listing.status_code == 200
    assert "delete_selected" not in listing.content.decode()
    before = _snapshot(model)
    admin_client.post(base, {"action": "delete_selected", "_selected_action": [rows[model].pk], "post": "yes"})
    assert _snapshot(model) == before
