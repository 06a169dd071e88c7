"""The linkage review pages: queue, pair, decisions, person and household records; decisions through the web."""

import datetime as dt
import itertools
import re
from datetime import date

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from onecase.accounts.models import Role
from onecase.contacts.models import Contact, NeedCategory, NeedKeyword
from onecase.contacts.services import demand_classify, resolution_refresh
from onecase.linkage.models import LinkDecision, ReviewItem
from onecase.linkage.rules import REVIEW_ROLES
from onecase.linkage.selectors import review_queue_for
from onecase.linkage.services import link_run, person_split
from onecase.people.models import AgencyPerson, Person, PersonLink
from onecase.reports.selectors import partnership_totals
from onecase.sharing.models import AuditEvent
from tests.auth import sign_in
from tests.test_linkage import active_links, add, background, family_of_five, reviewer

pytestmark = pytest.mark.django_db

WIDE_BAND = {"review_high": 0.99999}  # a wide review band, so a small partnership has pairs to review


@pytest.fixture
def family(settings):
    settings.ONECASE_LINKAGE = WIDE_BAND
    truth = family_of_five()
    link_run(actor=None)
    return truth


def contact(agency_person, record_id, when, need=None):
    """A contact whose presenting need is the category's keyword, so that linking places it there."""
    now = timezone.now()
    text = ""
    if need is not None:
        text = f"worried about {need.name.lower()}"
        NeedKeyword.objects.get_or_create(phrase=need.name.lower(), defaults={"category": need})
    return Contact.objects.create(
        agency=agency_person.agency, record_id=record_id, agency_person=agency_person, contact_type="contact",
        occurred_at=when, need_category=need, presenting_need=text, imported_at=now, updated_at=now,
    )


def person_of(ref: str) -> int:
    return active_links()[AgencyPerson.objects.get(person_ref=ref).pk]


def views(user, object_type):
    return AuditEvent.objects.filter(user=user, action=AuditEvent.Action.VIEW, object_type=object_type)


def test_a_split_made_on_the_person_page_holds_when_linkage_runs_again(client, family):
    admin = reviewer()
    sign_in(client, admin)
    wrong = AgencyPerson.objects.get(person_ref="JON2")
    stays = AgencyPerson.objects.get(person_ref="JON0")
    when = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    contact(wrong, "C-WRONG", when)
    contact(stays, "C-STAYS", when)
    resolution_refresh()
    person = active_links()[wrong.pk]
    others = [ap for ap, p in active_links().items() if p == person and ap != wrong.pk]
    assert client.get(reverse("web:review_queue")).status_code == 200

    page = client.get(reverse("web:review_person", args=[person]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "JON2" in body and "Why each record is linked here" in body
    assert "Split out of this person" in body
    assert views(admin, "person").filter(object_id=str(person)).count() == 1

    response = client.post(reverse("web:review_person", args=[person]), {"records": [wrong.pk], "note": "a lodger"})
    assert response.status_code == 302 and response["Location"] == reverse("web:review_person", args=[person])
    decision = LinkDecision.objects.get()
    assert decision.kind == LinkDecision.Kind.SPLIT and decision.decided_by == admin and decision.note == "a lodger"
    moved_to = active_links()[wrong.pk]
    assert moved_to != person
    # The contacts follow at once: the split record's to the new person, the others' stay.
    assert Contact.objects.get(record_id="C-WRONG").person_id == moved_to
    assert Contact.objects.get(record_id="C-STAYS").person_id == person
    assert "split out into person" in client.get(response["Location"]).content.decode()

    call_command("link", no_progress=True)
    link_run(actor=None, full=True)
    links = active_links()
    assert all(links[ap] != links[wrong.pk] for ap in others), "the split was undone by a later run"
    assert Contact.objects.get(record_id="C-WRONG").person_id == links[wrong.pk]


def test_split_form_errors_are_summarised(client, family):
    sign_in(client, reviewer())
    person = person_of("JON0")
    response = client.post(reverse("web:review_person", args=[person]), {"records": []})
    body = response.content.decode()
    assert response.status_code == 200 and "There is a problem" in body
    assert 'href="#id_records"' in body and 'id="id_records"' in body
    everything = [ap for ap, p in active_links().items() if p == person]
    response = client.post(reverse("web:review_person", args=[person]), {"records": everything})
    assert "Leave at least one record with this person" in response.content.decode()
    assert LinkDecision.objects.count() == 0


def test_the_queue_is_most_uncertain_first_filtered_and_paged(client, family):
    admin = reviewer()
    sign_in(client, admin)
    response = client.get(reverse("web:review_queue"))
    assert response.status_code == 200
    shown = [item.pk for item in response.context["page"].object_list]
    expected = sorted(review_queue_for(admin), key=lambda i: (abs(i.match_probability - 0.5), i.pk))
    assert shown == [i.pk for i in expected][: len(shown)]
    assert views(admin, "review_queue").count() == 1

    low = client.get(reverse("web:review_queue"), {"band": "below-60"}).context["page"].object_list
    assert low and all(i.match_probability < 0.6 for i in low)
    police = client.get(reverse("web:review_queue"), {"agency": "POLICE"}).context["page"].object_list
    assert police and all("POLICE" in (i.agency_person_a.agency.code, i.agency_person_b.agency.code) for i in police)
    wrong = client.get(reverse("web:review_queue"), {"band": "nonsense"})
    assert wrong.status_code == 200 and "Select a match probability from the list" in wrong.content.decode()

    ids = sorted(AgencyPerson.objects.filter(person_ref__regex=r"^(KEL|RIL)").values_list("pk", flat=True))
    ReviewItem.objects.bulk_create(  # more open pairs than a page holds
        ReviewItem(run=expected[0].run, agency_person_a_id=a, agency_person_b_id=b, match_probability=0.7,
                   match_weight=1.2, reason=ReviewItem.Reason.POSSIBLE_MATCH)
        for a, b in list(itertools.combinations(ids, 2))[:30]
    )
    first = client.get(reverse("web:review_queue"))
    assert first.context["page"].has_next()
    second = client.get(reverse("web:review_queue"), {"page": 2})
    assert set(i.pk for i in second.context["page"].object_list).isdisjoint(
        i.pk for i in first.context["page"].object_list)
    assert 'page=2"' in first.content.decode()


def test_reject_and_confirm_on_the_pair_page_then_undo(client, family):
    admin = reviewer()
    sign_in(client, admin)
    queue = sorted(review_queue_for(admin), key=lambda i: (abs(i.match_probability - 0.5), i.pk))
    first = queue[0]
    page = client.get(reverse("web:review_item", args=[first.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    for text in (first.agency_person_a.person_ref, first.agency_person_b.person_ref, "Given name", "Date of birth",
                 "NHS number", "UPRN", f"{first.match_probability:.3f}", first.evidence[0]["label"][1:]):
        assert text in body, text
    assert views(admin, "review_item").filter(object_id=str(first.pk)).count() == 1

    # No choice: an error summary, nothing decided.
    response = client.post(reverse("web:review_item", args=[first.pk]), {"note": "unsure", "version": first.version})
    assert response.status_code == 200
    assert "Select whether these records are about the same person" in response.content.decode()
    assert 'href="#id_decision"' in response.content.decode()
    assert LinkDecision.objects.count() == 0

    a, b = first.agency_person_a_id, first.agency_person_b_id
    response = client.post(reverse("web:review_item", args=[first.pk]), {"decision": "reject",
                                                                          "version": first.version})
    assert response.status_code == 302
    assert response["Location"] == reverse("web:review_item", args=[queue[1].pk])  # the next pair
    first.refresh_from_db()
    assert first.status == ReviewItem.Status.REJECTED
    assert active_links()[a] != active_links()[b]
    again = client.post(reverse("web:review_item", args=[first.pk]), {"decision": "confirm", "version": first.version})
    assert again.status_code == 200 and "already been decided" in again.content.decode()

    # Jonathan and Jack are now kept apart: confirming another of their pairs is refused, with the reason.
    second = queue[1]
    c, d = second.agency_person_a_id, second.agency_person_b_id
    refused = client.post(reverse("web:review_item", args=[second.pk]), {"decision": "confirm",
                                                                         "version": second.version})
    assert refused.status_code == 200 and "An earlier decision keeps some of these records apart" in (
        refused.content.decode())
    rejected = LinkDecision.objects.get(kind=LinkDecision.Kind.REJECT)
    listing = client.get(reverse("web:review_decisions"))
    body = listing.content.decode()
    assert listing.status_code == 200 and body.count("Undo<span") == 1
    assert admin.username in body and "Rejected: not the same person" in body
    assert views(admin, "link_decisions").count() == 1
    response = client.post(reverse("web:review_undo", args=[rejected.pk]), {"version": rejected.version})
    assert response.status_code == 302 and response["Location"] == reverse("web:review_decisions")
    rejected.refresh_from_db()
    first.refresh_from_db()
    assert rejected.undone_at is not None and rejected.undone_by == admin
    assert first.status == ReviewItem.Status.OPEN

    people_before = partnership_totals()["people"]
    second.refresh_from_db()
    response = client.post(reverse("web:review_item", args=[second.pk]), {"decision": "confirm", "note": "same",
                                                                          "version": second.version})
    assert response.status_code == 302
    assert active_links()[c] == active_links()[d]
    # The person emptied by the merge is kept, but no longer counted.
    assert partnership_totals()["people"] == people_before - 1
    assert partnership_totals()["people"] == Person.objects.filter(links__undone_at__isnull=True).distinct().count()
    confirmed = LinkDecision.objects.get(kind=LinkDecision.Kind.CONFIRM)
    client.post(reverse("web:review_undo", args=[confirmed.pk]), {"version": confirmed.version})
    assert active_links()[c] != active_links()[d]
    assert partnership_totals()["people"] == people_before
    assert "undone" in client.get(reverse("web:review_decisions")).content.decode()
    confirmed.refresh_from_db()
    response = client.post(reverse("web:review_undo", args=[confirmed.pk]), {"version": confirmed.version}, follow=True)
    assert "already been undone" in response.content.decode()


def test_contacts_and_failure_demand_follow_a_split_and_its_undo(client):
    need = NeedCategory.objects.create(code="money", name="Money")
    nhs = "9434765919"
    first = add("POLICE", "M1", "Margaret", "Okafor", date(1950, 1, 2), "F", "5 Mill Lane", "ST3 1AA", nhs=nhs)
    second = add("HOUSING", "M2", "Margaret", "Okafor", date(1950, 1, 2), "F", "22 Park Road", "ST7 2BB", nhs=nhs)
    contact(first, "C1", dt.datetime(2025, 1, 1, tzinfo=dt.UTC), need)
    contact(second, "C2", dt.datetime(2025, 1, 15, tzinfo=dt.UTC), need)
    background(100)
    link_run(actor=None)
    person = active_links()[first.pk]
    assert active_links()[second.pk] == person
    demand_classify(actor=None)
    assert Contact.objects.get(record_id="C2").demand_class == "failure"  # the same need again, two weeks on

    admin = reviewer(Role.PARTNERSHIP_ADMIN)
    sign_in(client, admin)
    client.post(reverse("web:review_person", args=[person]), {"records": [first.pk]})
    moved = Contact.objects.get(record_id="C1")
    assert moved.person_id == active_links()[first.pk] != person
    assert moved.household_id == Person.objects.get(pk=moved.person_id).household_id
    assert moved.household_id != Contact.objects.get(record_id="C2").household_id
    assert Contact.objects.get(record_id="C2").demand_class == "value"  # no longer a repeat

    decision = LinkDecision.objects.get()
    client.post(reverse("web:review_undo", args=[decision.pk]), {"version": decision.version})
    assert Contact.objects.get(record_id="C1").person_id == person
    assert Contact.objects.get(record_id="C2").demand_class == "failure"


NOT_REVIEWERS = [r for r in Role.values if r not in REVIEW_ROLES]


@pytest.mark.parametrize("role", NOT_REVIEWERS)
def test_other_roles_are_refused_and_the_refusal_audited(client, family, role):
    admin = reviewer()
    item = review_queue_for(admin).first()
    person = person_of("JON0")
    decision = person_split(actor=admin, agency_person=AgencyPerson.objects.get(person_ref="JON2"))
    household = Person.objects.get(pk=person).household_id
    user = reviewer(role, "POLICE", f"user-{role}")
    sign_in(client, user)
    pages = [reverse("web:review_queue"), reverse("web:review_item", args=[item.pk]),
             reverse("web:review_decisions"), reverse("web:review_person", args=[person]),
             reverse("web:review_household", args=[household])]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Jonathan" not in response.content.decode()
    response = client.post(reverse("web:review_undo", args=[decision.pk]))
    assert response.status_code == 403
    response = client.post(reverse("web:review_item", args=[item.pk]), {"decision": "confirm"})
    assert response.status_code == 403
    refused = AuditEvent.objects.filter(user=user, action=AuditEvent.Action.REFUSED)
    assert refused.count() == len(pages) + 2
    assert not AuditEvent.objects.filter(user=user, action=AuditEvent.Action.VIEW).exists()
    assert LinkDecision.objects.filter(undone_at__isnull=True).count() == 1
    assert "Linkage review" not in client.get("/").content.decode()


def test_an_agency_administrator_reviews_only_their_own_agencys_records(client, family):
    police = reviewer(Role.AGENCY_ADMIN, "POLICE", "police-admin")
    sign_in(client, police)
    assert "Linkage review" in client.get("/").content.decode()
    queue = client.get(reverse("web:review_queue"))
    assert queue.status_code == 200
    for item in queue.context["page"].object_list:
        assert item.agency_person_a.agency.code == item.agency_person_b.agency.code == "POLICE"
    cross = ReviewItem.objects.exclude(agency_person_a__agency__code="POLICE", agency_person_b__agency__code="POLICE")
    item = cross.first()
    assert client.get(reverse("web:review_item", args=[item.pk])).status_code == 404
    assert client.post(reverse("web:review_item", args=[item.pk]), {"decision": "reject"}).status_code == 404
    person = person_of("JON0")
    page = client.get(reverse("web:review_person", args=[person]))
    body = page.content.decode()
    assert page.status_code == 200 and "JON0" in body and "JON1" not in body
    assert "8 more at agencies you cannot see" in body and "Split out of this person" not in body
    jon0 = AgencyPerson.objects.get(person_ref="JON0")
    assert client.post(reverse("web:review_person", args=[person]), {"records": [jon0.pk]}).status_code == 403
    household = client.get(reverse("web:review_household", args=[Person.objects.get(pk=person).household_id]))
    assert household.status_code == 200 and "JAC1" not in household.content.decode()
    assert LinkDecision.objects.count() == 0
    assert AuditEvent.objects.filter(user=police, action=AuditEvent.Action.REFUSED).count() == 3


def test_profile_pages_link_reviewers_to_records_and_evidence(client, family):
    sign_in(client, reviewer())
    person = person_of("JAC0")
    household = Person.objects.get(pk=person).household_id
    profile = client.get(reverse("web:person", args=[person])).content.decode()
    assert reverse("web:review_person", args=[person]) in profile and "How linked" in profile
    assert reverse("web:review_household", args=[household]) in client.get(
        reverse("web:household", args=[household])).content.decode()
    page = client.get(reverse("web:review_household", args=[household]))
    # One table per person, named as their records name them, never by an id.
    assert page.status_code == 200 and page.content.decode().count("Agency records of ") == 5
    assert not re.search(r"(Person|person|Household) \d", page.content.decode())
    assert reverse("web:review_person", args=[person]) in page.content.decode()
    assert PersonLink.objects.filter(undone_at__isnull=True).count() == 45
