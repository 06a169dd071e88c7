"""Change history of the demand ledger and agreements, kept by PostgreSQL triggers."""

import pytest
from django.apps import apps
from django.db import connection

from onecase.contacts.models import Contact, DemandClass, NeedCategory
from onecase.contacts.services import contact_set_demand_class, contact_set_need
from onecase.imports.services import import_contacts
from onecase.people.models import Address, Household, Person

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="history triggers run on PostgreSQL"),
]


def events():
    return list(apps.get_model("contacts", "ContactEvent").objects.order_by("pgh_id"))


@pytest.fixture
def two_contacts(write_file):
    path = write_file("p.csv", "record_id,person_ref,occurred_at,contact_type\nR1,P1,2024-01-01,call\nR2,P1,2024-01-02,call\n")
    import_contacts(actor=None, path=path, agency_code="POLICE")
    return path


def test_bulk_and_queryset_updates_of_agency_data_are_kept(two_contacts, write_file):
    Contact.objects.update(outcome="advice given")  # one statement, two rows
    import_contacts(actor=None, path=write_file("q.csv", two_contacts.read_text().replace("call", "visit")),
                    agency_code="POLICE")
    Contact.objects.filter(record_id="R2").delete()
    labels = [e.pgh_label for e in events()]
    assert labels.count("update") == 4  # the bulk update and the re-import's upsert, two rows each
    assert labels.count("delete") == 1
    assert {e.contact_type for e in events() if e.pgh_label == "update"} == {"call", "visit"}


def test_what_linkage_and_the_classifiers_derive_is_not_kept(two_contacts):
    household = Household.objects.create(address=Address.objects.create(postcode="ST1 1AA", number="1"))
    person = Person.objects.create(household=household)
    category = NeedCategory.objects.first()
    Contact.objects.update(person=person, household=household, address=household.address)
    Contact.objects.update(demand_class=DemandClass.FAILURE, need_category=category)
    assert events() == []


def test_reclassification_by_hand_is_kept(two_contacts, partnership_admin):
    category = NeedCategory.objects.first()
    contact = Contact.objects.get(record_id="R1")
    contact_set_demand_class(actor=partnership_admin, contact=contact, demand_class=DemandClass.FAILURE)
    contact_set_demand_class(actor=partnership_admin, contact=contact, demand_class=DemandClass.VALUE)
    contact_set_need(actor=partnership_admin, contact=contact, category=category)
    kept = events()
    assert [(e.demand_class, e.demand_class_manual, e.need_category_id) for e in kept] == [
        (DemandClass.FAILURE, True, None),
        (DemandClass.VALUE, True, None),
        (DemandClass.VALUE, True, category.pk),
    ]
