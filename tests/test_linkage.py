"""`onecase link`: people and households from agency people; link, never merge; review decisions."""

import csv
import itertools
import json
import re
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import transaction

from onecase.accounts.models import Agency, Role
from onecase.contacts.models import Contact
from onecase.linkage.metrics import bcubed
from onecase.linkage.models import DecisionPair, LinkDecision, LinkRun, ReviewItem
from onecase.linkage.selectors import household_detail_for, person_detail_for, review_queue_for
from onecase.linkage.services import (
    decision_undo,
    link_run,
    links_export,
    person_split,
    review_confirm,
    review_reject,
)
from onecase.linkage.synthetic import Generator, load
from onecase.people.models import AgencyPerson, Person, PersonLink
from onecase.sharing.models import AuditEvent
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db

AGENCIES = ("POLICE", "FIRE", "AMBULANCE", "HOUSING", "REVBEN", "CSC", "ED", "FOODBANK", "CAB", "EWS")

# The talk's family: each agency writes them down its own way.
FAMILY = {
    "jonathan": ("Jonathan", "Smith", date(1980, 3, 7), "M", ("Jonathan", "Jon", "John", "Jonny", "JONATHAN")),
    "kelly": ("Kelly", "Smith", date(1982, 11, 21), "F", ("Kelly", "Kellie", "KELLY", "Kelly", "Kelly")),
    "jack": ("Jack", "Smith", date(2008, 5, 2), "M", ("Jack", "Jack", "JACK", "Jak", "Jack")),
    "chloe": ("Chloe", "Smith", date(2010, 9, 14), "F", ("Chloe", "Cloe", "CHLOE", "Chloe", "Chloë")),
    "riley": ("Riley", "Smith", date(2013, 1, 30), "M", ("Riley", "Reilly", "RILEY", "Riley", "Rylee")),
}
FAMILY_NAMES = ("Smith", "Smyth", "SMITH", "Smith", "Smithe")
ADDRESSES = (
    ("14 Hanley Road", "ST1 4HH", ""),
    ("14, HANLEY RD", "st14hh", ""),
    ("14 Hanley Rd, Stoke-on-Trent", "ST1 4HJ", ""),  # a postcode typo
    ("14 Hanley Road", "", ""),
    ("", "ST1 4HH", ""),
)


def _dob_variant(dob: date, i: int) -> date | None:
    if i % 5 == 1:
        return None  # not recorded
    if i % 5 == 2 and dob.day <= 12:
        return date(dob.year, dob.day, dob.month)  # day and month swapped
    if i % 5 == 3:
        return dob.replace(year=dob.year + 1)  # a year out
    return dob


def add(agency: str, ref: str, given="", family="", dob=None, sex="", line="", postcode="", uprn="", nhs=""):
    return AgencyPerson.objects.create(
        agency=AgencyFactory(code=agency), person_ref=ref, given_name=given, family_name=family, date_of_birth=dob,
        sex=sex, address_line=line, postcode=postcode, uprn=uprn, nhs_number=nhs,
    )


def family_of_five() -> dict[int, str]:
    """Each member recorded by 9 agencies under spelling variants; returns agency person id -> member."""
    truth = {}
    for member, (_, _, dob, sex, givens) in FAMILY.items():
        for i, agency in enumerate(AGENCIES[:9]):
            given = givens[i % len(givens)]
            family = FAMILY_NAMES[(i + len(member)) % len(FAMILY_NAMES)]
            if member == "jonathan" and i == 4:
                given, family = family, given  # SMITH Jonathan
            line, postcode, uprn = ADDRESSES[i % len(ADDRESSES)]
            if agency in ("HOUSING", "REVBEN"):
                uprn = "100031234567"
            ap = add(agency, f"{member[:3].upper()}{i}", given, family, _dob_variant(dob, i),
                     sex if i % 3 else "", line, postcode, uprn)
            truth[ap.pk] = member
    return truth


def background(records: int = 300, seed: int = 11) -> dict[int, tuple]:
    population = Generator(seed).generate(records)
    with transaction.atomic():
        return load(population.records)


def active_links() -> dict[int, int]:
    return dict(PersonLink.objects.filter(undone_at__isnull=True).values_list("agency_person_id", "person_id"))


def reviewer(role=Role.PARTNERSHIP_ADMIN, agency="PARTNERSHIP", username="reviewer"):
    return UserFactory(username=username, role=role, agency=AgencyFactory(code=agency))


def test_the_family_of_five_is_five_people_in_one_household():
    truth = family_of_five()
    background()
    link_run(actor=None)
    links = active_links()
    people = {member: {links[ap] for ap, m in truth.items() if m == member} for member in FAMILY}
    assert all(len(p) == 1 for p in people.values()), people
    assert len({next(iter(p)) for p in people.values()}) == 5
    households = Person.objects.filter(pk__in=[next(iter(p)) for p in people.values()]).values_list(
        "household_id", flat=True)
    assert len(set(households)) == 1 and None not in households
    household = Person.objects.get(pk=next(iter(people["jack"]))).household
    assert household.address.uprn == "100031234567"
    assert household.address.postcode == "ST1 4HH"
    # Every link carries its match probability.
    probabilities = PersonLink.objects.filter(agency_person_id__in=truth).values_list("match_probability", flat=True)
    assert all(0.5 <= p <= 1.0 for p in probabilities)


def test_a_son_with_his_fathers_name_and_twins_stay_apart():
    common = {"line": "3 Kiln Lane", "postcode": "ST4 2AB", "family": "Boulton"}
    dad = [add(a, f"D{a}", "Gary", dob=date(1975, 6, 1), **common) for a in ("POLICE", "ED", "HOUSING")]
    son = [add(a, f"S{a}", "Gary", dob=date(2004, 2, 9), **common) for a in ("POLICE", "ED", "EWS")]
    unsure = add("FOODBANK", "F1", "Gary", **common)  # no date of birth: could be either
    twin_a = [add(a, f"A{a}", "Mia", dob=date(2015, 8, 8), sex="F", **common) for a in ("ED", "EWS")]
    twin_b = [add(a, f"B{a}", "Leo", dob=date(2015, 8, 8), sex="M", **common) for a in ("ED", "EWS")]
    background(150)
    link_run(actor=None)
    links = active_links()
    groups = [{links[ap.pk] for ap in g} for g in (dad, son, twin_a, twin_b)]
    assert all(len(g) == 1 for g in groups)
    assert len({next(iter(g)) for g in groups}) == 4
    assert links[unsure.pk] in (next(iter(groups[0])), next(iter(groups[1])))
    # All five people (the unsure record joined one of the Garys) share one household.
    households = set(Person.objects.filter(pk__in=set(links[ap.pk] for g in (dad, son, twin_a, twin_b) for ap in g))
                     .values_list("household_id", flat=True))
    assert len(households) == 1


def test_a_twins_record_without_a_given_name_is_not_taken_for_the_twin_of_the_other_sex():
    common = {"line": "9 Kiln Lane", "postcode": "ST4 2AB", "family": "Pointon", "dob": date(2016, 3, 3)}
    sister = [add(a, f"A{a}", "Ruby", sex="F", **common) for a in ("ED", "EWS")]
    brother = add("AMBULANCE", "N1", "", sex="M", **common)  # his only record, without his name
    background(150)
    link_run(actor=None)
    links = active_links()
    assert len({links[ap.pk] for ap in sister}) == 1
    assert links[brother.pk] != links[sister[0].pk]


def test_records_that_vouch_for_a_person_outvote_one_odd_record_but_not_a_daughter():
    common = {"line": "7 Kiln Lane", "postcode": "ST4 2AB", "family": "Hollins"}
    dob, nhs = date(1979, 4, 12), "4857773456"
    mum = [
        add("ED", "M1", "Dawn", dob=dob, nhs=nhs, **common),
        add("HOUSING", "M2", "Dawn", dob=dob, nhs=nhs, **common),
        # Her daughter's name typed on her record: her NHS number links it all the same.
        add("AMBULANCE", "M3", "Kayla", dob=dob, nhs=nhs, **common),
        # No NHS number: it conflicts with the odd record, but two records vouch for it.
        add("POLICE", "M4", "Dawn", dob=dob, **common),
    ]
    # The daughter shares a name with the odd record, but no record vouches for her being her mother.
    daughter = [add("ED", "K1", "Kayla", dob=date(2005, 9, 30), nhs="9434765919", **common),
                add("EWS", "K2", "Kayla", dob=date(2005, 9, 30), **common)]
    background(150)
    link_run(actor=None)
    links = active_links()
    assert len({links[ap.pk] for ap in mum}) == 1
    assert len({links[ap.pk] for ap in daughter}) == 1
    assert links[mum[0].pk] != links[daughter[0].pk]


def test_linking_is_repeatable_and_never_alters_agency_people():
    background(400)
    records_before = list(AgencyPerson.objects.order_by("pk").values())
    first = link_run(actor=None)
    links = list(PersonLink.objects.order_by("pk").values("pk", "agency_person_id", "person_id", "match_probability"))
    households = list(Person.objects.order_by("pk").values_list("pk", "household_id"))
    again = link_run(actor=None, full=True)
    assert again.mode == LinkRun.Mode.FULL and again.links_created == again.links_undone == 0
    assert list(PersonLink.objects.order_by("pk").values("pk", "agency_person_id", "person_id",
                                                         "match_probability")) == links
    assert list(Person.objects.order_by("pk").values_list("pk", "household_id")) == households
    assert again.model == first.model
    assert list(AgencyPerson.objects.order_by("pk").values()) == records_before


def test_incremental_run_links_new_records_without_relinking():
    population = Generator(5).generate(500)
    old, new = population.records[:420], population.records[420:]
    with transaction.atomic():
        truth = load(old)
    first = link_run(actor=None)
    assert first.mode == LinkRun.Mode.FULL
    before = set(PersonLink.objects.filter(undone_at__isnull=True).values_list("pk", flat=True))
    with transaction.atomic():
        truth.update(load(new))
    second = link_run(actor=None)
    assert second.mode == LinkRun.Mode.INCREMENTAL
    assert second.new_records == len(new) and second.links_undone == 0
    after = set(PersonLink.objects.filter(undone_at__isnull=True).values_list("pk", flat=True))
    assert before <= after and len(after - before) == len(new)
    score = bcubed(active_links(), {k: v[0] for k, v in truth.items()})
    assert score.precision > 0.97 and score.recall > 0.85
    # Some new records joined people who already existed.
    joined = PersonLink.objects.filter(pk__in=after - before, person__created_at__lt=second.started_at).count()
    assert joined > 0


def test_contacts_get_their_resolved_address():
    family_of_five()
    link_run(actor=None)
    contact_ap = AgencyPerson.objects.get(person_ref="JON0")
    Contact.objects.create(agency=contact_ap.agency, record_id="C1", agency_person=contact_ap,
                           occurred_at="2025-01-01T00:00Z", contact_type="call", address_line="14 Hanley Rd",
                           postcode="ST14HH", imported_at="2025-01-01T00:00Z", updated_at="2025-01-01T00:00Z")
    Contact.objects.create(agency=contact_ap.agency, record_id="C2", agency_person=contact_ap,
                           occurred_at="2025-01-01T00:00Z", contact_type="call",
                           imported_at="2025-01-01T00:00Z", updated_at="2025-01-01T00:00Z")
    link_run(actor=None)
    household_address = Person.objects.get(links__agency_person=contact_ap, links__undone_at__isnull=True).household
    assert Contact.objects.get(record_id="C1").address_id == household_address.address_id
    assert Contact.objects.get(record_id="C2").address_id == household_address.address_id


def test_contacts_carry_their_person_and_household_after_every_run():
    population = Generator(9).generate(400)
    with transaction.atomic():
        load(population.records[:340])

    def check():
        link = {ap: (p, h) for ap, p, h in PersonLink.objects.filter(undone_at__isnull=True).values_list(
            "agency_person_id", "person_id", "person__household_id")}
        contacts = list(Contact.objects.values_list("agency_person_id", "person_id", "household_id"))
        assert contacts and all(link[ap] == (p, h) for ap, p, h in contacts)

    link_run(actor=None)
    check()
    with transaction.atomic():
        load(population.records[340:])
    assert link_run(actor=None).mode == LinkRun.Mode.INCREMENTAL
    check()
    link_run(actor=None, full=True)
    check()


def test_a_split_holds_through_later_runs():
    family_of_five()
    link_run(actor=None)
    admin = reviewer()
    wrong = AgencyPerson.objects.get(person_ref="JON2")
    old_person = active_links()[wrong.pk]
    decision = person_split(actor=admin, agency_person=wrong, note="not him: a lodger")
    assert decision.kind == LinkDecision.Kind.SPLIT
    assert active_links()[wrong.pk] != old_person
    assert PersonLink.objects.get(agency_person=wrong, undone_at__isnull=True).method == PersonLink.Method.SPLIT
    others = [ap for ap, p in active_links().items() if p == old_person]
    assert DecisionPair.objects.filter(decision=decision, together=False).count() == len(others)
    for full in (False, True):
        link_run(actor=None, full=full)
        links = active_links()
        assert all(links[ap] != links[wrong.pk] for ap in others), f"split undone by a {'full' if full else ''} run"
    # Undone, the model places the record again: back with the others on the next full run.
    decision_undo(actor=admin, decision=decision)
    link_run(actor=None, full=True)
    links = active_links()
    assert links[wrong.pk] == links[others[0]]
    assert AuditEvent.objects.filter(object_type="link_decision").count() == 2


def test_reject_and_confirm_take_effect_and_are_respected_by_full_runs():
    family_of_five()
    link_run(actor=None)
    admin = reviewer()
    a, b = AgencyPerson.objects.get(person_ref="JAC0"), AgencyPerson.objects.get(person_ref="JAC3")
    assert active_links()[a.pk] == active_links()[b.pk]
    rejected = review_reject(actor=admin, agency_person=a, other=b, note="different boys")
    assert active_links()[a.pk] != active_links()[b.pk]
    link_run(actor=None, full=True)
    assert active_links()[a.pk] != active_links()[b.pk]
    decision_undo(actor=admin, decision=rejected)
    assert active_links()[a.pk] == active_links()[b.pk]  # restored at once
    # Confirm two records the model keeps apart (different children): they become one person, and stay so.
    c = AgencyPerson.objects.get(person_ref="CHL0")
    confirmed = review_confirm(actor=admin, agency_person=a, other=c)
    assert active_links()[a.pk] == active_links()[c.pk]
    link_run(actor=None, full=True)
    assert active_links()[a.pk] == active_links()[c.pk]
    assert confirmed.created_links.count() > 0
    event = AuditEvent.objects.filter(object_type="link_decision", object_id=str(confirmed.pk)).get()
    assert event.username == admin.username and "Smith" not in json.dumps(event.detail)


def test_review_queue_and_decisions_on_items(settings):
    settings.ONECASE_LINKAGE = {"review_high": 0.99999}  # a wide band, so this small partnership has items
    background(300)
    link_run(actor=None)
    admin = reviewer()
    queue = list(review_queue_for(admin))
    assert queue, "pairs in the review band are queued"
    assert [i.match_probability for i in queue] == sorted((i.match_probability for i in queue), reverse=True)
    item = queue[0]
    labels = {e["comparison"]: e["label"] for e in item.evidence}
    assert set(labels) == {"given_name", "family_name", "date_of_birth", "address", "sex", "nhs_number"}
    assert all(isinstance(e["weight"], float) for e in item.evidence)
    assert 0.5 <= item.match_probability < 0.99999
    decision = review_reject(actor=admin, item=item)
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.REJECTED and decision.review_item == item
    with pytest.raises(ValidationError):
        review_reject(actor=admin, item=item)
    link_run(actor=None, full=True)
    assert not ReviewItem.objects.filter(
        status=ReviewItem.Status.OPEN, agency_person_a=item.agency_person_a, agency_person_b=item.agency_person_b
    ).exists()
    decision_undo(actor=admin, decision=decision)
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.OPEN
    with pytest.raises(ValidationError):
        decision_undo(actor=admin, decision=decision)


def test_only_reviewers_who_see_both_records_may_decide():
    family_of_five()
    link_run(actor=None)
    a, b = AgencyPerson.objects.get(person_ref="JON0"), AgencyPerson.objects.get(person_ref="JON1")
    practitioner = reviewer(Role.PRACTITIONER, "POLICE", "pc")
    with pytest.raises(PermissionDenied):
        review_confirm(actor=practitioner, agency_person=a, other=b)
    police_admin = reviewer(Role.AGENCY_ADMIN, "POLICE", "padmin")
    with pytest.raises(PermissionDenied):  # the second record is the fire service's
        review_reject(actor=police_admin, agency_person=a, other=b)
    with pytest.raises(PermissionDenied):
        person_split(actor=police_admin, agency_person=a)
    with pytest.raises(PermissionDenied):
        link_run(actor=police_admin)
    dpo = reviewer(Role.DPO, "PARTNERSHIP", "dpo")
    with pytest.raises(PermissionDenied):  # a DPO of one agency sees that agency's records only
        review_reject(actor=dpo, agency_person=a, other=b)
    assert list(review_queue_for(practitioner)) == []
    assert LinkDecision.objects.count() == 0


def test_review_queue_is_scoped_to_the_agency(settings):
    settings.ONECASE_LINKAGE = {"review_high": 0.99999}
    a = add("POLICE", "P1", "Sam", "Hollins", line="9 Marl Street", postcode="ST6 1AA")
    add("POLICE", "P2", "Samantha", "Hollins", line="9 Marl St", postcode="ST6 1AA")
    add("CAB", "C1", "Sam", "Hollins", line="9 Marl Street", postcode="ST6 1AA")
    background(150)
    link_run(actor=None)
    police_admin = reviewer(Role.AGENCY_ADMIN, "POLICE", "padmin")
    for item in review_queue_for(police_admin):
        assert item.agency_person_a.agency_id == item.agency_person_b.agency_id == a.agency_id
    everyone = set(review_queue_for(reviewer()).values_list("pk", flat=True))
    assert set(review_queue_for(police_admin).values_list("pk", flat=True)) <= everyone


def test_person_and_household_detail_show_visible_records_with_evidence():
    truth = family_of_five()
    link_run(actor=None)
    admin = reviewer()
    jack = next(ap for ap, m in truth.items() if m == "jack")
    person_id = active_links()[jack]
    detail = person_detail_for(admin, person_id)
    assert len(detail.records) == 9 and detail.hidden_records == 0
    assert all(r.evidence and r.best_match is not None for r in detail.records)
    assert all(0 <= r.match_probability <= 1 for r in detail.records)
    police = reviewer(Role.PRACTITIONER, "POLICE", "pc")
    scoped = person_detail_for(police, person_id)
    assert [r.agency_person.agency.code for r in scoped.records] == ["POLICE"]
    assert scoped.hidden_records == 8
    assert person_detail_for(reviewer(Role.PRACTITIONER, "NOWHERE", "x"), person_id) is None
    household = household_detail_for(admin, detail.household.pk)
    assert len(household.members) == 5
    assert len(household_detail_for(police, detail.household.pk).members) == 5


def test_export_links_writes_one_row_per_agency_person(tmp_path, capsys):
    family_of_five()
    add("POLICE", "UNLINKED-LATER")
    link_run(actor=None)
    unlinked = add("POLICE", "NEW")
    path = tmp_path / "links.csv"
    call_command("export_links", str(path))
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == ["agency", "person_ref", "person_id", "household_id", "match_probability"]
    assert len(rows) == AgencyPerson.objects.count()
    by_ref = {(r["agency"], r["person_ref"]): r for r in rows}
    assert by_ref[("POLICE", "NEW")]["person_id"] == ""
    jon = by_ref[("POLICE", "JON0")]
    link = PersonLink.objects.get(agency_person__person_ref="JON0", undone_at__isnull=True)
    assert int(jon["person_id"]) == link.person_id
    assert int(jon["household_id"]) == link.person.household_id
    assert abs(float(jon["match_probability"]) - link.match_probability) < 1e-6
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, object_type="links").exists()
    with pytest.raises(PermissionDenied):
        links_export(actor=reviewer(Role.AGENCY_ADMIN, "POLICE", "p"), path=tmp_path / "x.csv")
    assert unlinked.pk


def test_link_command_reports_and_draws_progress_on_stderr(capsys):
    family_of_five()
    call_command("link")
    captured = capsys.readouterr()
    assert re.search(r"Link run \d+ \(full\): 45 agency people", captured.out)
    assert "link" in captured.err  # the tqdm bar
    call_command("link", no_progress=True)
    captured = capsys.readouterr()
    assert "(incremental)" in captured.out and captured.err == ""
    run = LinkRun.objects.latest("id")
    assert run.status == LinkRun.Status.FINISHED and run.finished_at is not None
    assert AuditEvent.objects.filter(object_type="link_run").count() == 2


def test_training_on_a_partnership_reaches_quality(settings):
    settings.ONECASE_LINKAGE = {"min_training_records": 500}
    population = Generator(21, missing_dob=0.1).generate(1200)
    with transaction.atomic():
        truth = load(population.records)
    run = link_run(actor=None)
    assert run.trained
    given = run.model["comparisons"]["given_name"]
    assert given["same"][0] > given["different"][0]  # EM learned that a person keeps their name
    links = active_links()
    people = bcubed(links, {k: v[0] for k, v in truth.items()})
    assert people.precision > 0.97 and people.recall > 0.88, people
    households = dict(Person.objects.values_list("pk", "household_id"))
    assigned = {k: households[p] or ("person", p) for k, p in links.items()}
    assert bcubed(assigned, {k: v[1] for k, v in truth.items()}).precision > 0.97


def test_agencies_and_people_counts_stay_consistent():
    family_of_five()
    run = link_run(actor=None)
    assert run.people == Person.objects.filter(links__undone_at__isnull=True).distinct().count() == 5
    assert run.households == 1
    assert Agency.objects.count() == 9
    assert sorted(itertools.chain.from_iterable(
        PersonLink.objects.filter(undone_at__isnull=True).values_list("agency_person_id"))) == sorted(
        AgencyPerson.objects.values_list("pk", flat=True))
