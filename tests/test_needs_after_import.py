"""Contacts that arrive by upload are placed in need categories by the link that follows, so the demand
ranking and failure demand count them at once; contacts placed by hand keep their category."""

import pytest

from onecase.accounts.models import Role
from onecase.contacts.demand import demand_ranking
from onecase.contacts.models import Contact, DemandClass, NeedCategory
from onecase.contacts.services import contact_set_need
from onecase.imports.services import import_contacts
from onecase.linkage.services import link_now, link_run
from onecase.reports.demand_reports import failure_share_by_agency
from onecase.sharing.models import AuditEvent
from tests.factories import AgencyFactory, UserFactory
from tests.test_link_after_import import _isolated, kelly, police_admin, upload, worker  # noqa: F401

pytestmark = pytest.mark.django_db

HEADER = (
    "record_id,person_ref,occurred_at,contact_type,given_name,family_name,date_of_birth,sex,address_line,postcode,"
    "presenting_need\n"
)
# Kelly Smith again, under a reference the police have never used, asking about the same need three times.
ARREARS = (
    "P1,NEW-77,2025-03-01T09:00:00,incident,Kellie,Smith,1982-11-21,F,\"14, Hanley Rd\",ST14HH,behind on rent arrears\n"
    "P2,NEW-77,2025-03-02T09:00:00,incident,Kellie,Smith,1982-11-21,F,\"14, Hanley Rd\",ST14HH,the rent arrears again\n"
    "P3,NEW-77,2025-03-03T09:00:00,incident,Kelly,Smith,1982-11-21,F,\"14, Hanley Rd\",ST14HH,still can't pay the rent\n"
)


@pytest.fixture
def analyst(db):
    return UserFactory(username="analyst", role=Role.ANALYST, agency=AgencyFactory(code="PARTNERSHIP"))


def police_contacts():
    return Contact.objects.filter(agency__code="POLICE").order_by("record_id")


def test_an_upload_is_placed_in_need_categories_and_counted_as_failure_demand_once_linked(
    client, police_admin, kelly, worker, analyst, django_capture_on_commit_callbacks  # noqa: F811
):
    job = upload(client, police_admin, django_capture_on_commit_callbacks, HEADER + ARREARS)
    assert job.link_request.status == "finished"
    finances = NeedCategory.objects.get(code="finances")
    assert [(c.need_category_id, c.demand_class) for c in police_contacts()] == [
        (finances.pk, DemandClass.VALUE), (finances.pk, DemandClass.FAILURE), (finances.pk, DemandClass.FAILURE),
    ]
    person = next(r for r in demand_ranking(analyst, by="person") if r["person_id"] == kelly.pk)
    assert person["contacts_by_agency"]["POLICE"] == 3
    # Kelly's two fire safety visits have no need given; of her five contacts, two repeat a need.
    assert person["failure_demand_share"] == pytest.approx(2 / 5, abs=1e-4)
    police = next(r for r in failure_share_by_agency(analyst) if r.contacts == 3)
    assert police.failures == 2
    placed = AuditEvent.objects.filter(object_type="contacts", detail__scope__isnull=False).last()
    assert placed.detail["need_classification"] == {"finances": 3}  # only what arrived since the last link


def test_a_changed_contact_is_placed_again_and_one_placed_by_hand_is_kept(write_file, kelly, police_admin):  # noqa: F811
    import_contacts(actor=None, path=write_file("police.csv", HEADER + ARREARS), agency_code="POLICE")
    assert link_now(reason="command line import").status == "finished"
    first, second, third = police_contacts()
    health = NeedCategory.objects.get(code="health")
    contact_set_need(actor=police_admin, contact=third, category=health)

    changed = ARREARS.replace("the rent arrears again", "my chest hurts").replace("can't pay the rent", "debt")
    import_contacts(actor=None, path=write_file("police2.csv", HEADER + changed), agency_code="POLICE")
    assert link_now(reason="command line import").status == "finished"
    codes = [(c.need_category.code, c.demand_class) for c in police_contacts()]
    assert codes == [("finances", DemandClass.VALUE), ("health", DemandClass.VALUE), ("health", DemandClass.FAILURE)]


def test_a_bulk_load_without_linking_is_placed_by_the_next_link(write_file, kelly):  # noqa: F811
    import_contacts(actor=None, path=write_file("police.csv", HEADER + ARREARS), agency_code="POLICE")
    assert set(police_contacts().values_list("need_category", flat=True)) == {None}  # loaded as sent
    link_run(actor=None, full=True)
    assert set(police_contacts().values_list("need_category__code", flat=True)) == {"finances"}
    assert list(police_contacts().values_list("demand_class", flat=True)) == [
        DemandClass.VALUE, DemandClass.FAILURE, DemandClass.FAILURE]
