"""Presenting needs, in the citizen's own words, grouped into need categories."""

import pytest
from django.core.exceptions import PermissionDenied

from onecase.contacts.models import Contact, NeedCategory, NeedKeyword
from onecase.contacts.needs import DEFAULT_CATEGORIES, NeedMatcher
from onecase.contacts.services import contact_set_need, needs_classify
from onecase.imports.services import import_contacts
from onecase.sharing.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEEDS = [
    ("help me find a job", "work"),
    ("I can't pay my rent arrears", "finances"),
    ("my neighbour is threatening me", "crime_asb"),
    ("he hit me again", "domestic_abuse"),
    ("I need food for the kids", "finances"),
    ("my son won't go to school", "school_attendance"),
    ("the damp is making us ill", "housing"),
    ("the weather is nice", None),
]


def test_default_taxonomy_is_the_supporting_families_outcomes():
    assert list(NeedCategory.objects.values_list("code", flat=True)) == [c[0] for c in DEFAULT_CATEGORIES]
    assert NeedKeyword.objects.count() > 100


@pytest.mark.parametrize(("text", "expected"), NEEDS)
def test_matcher_places_citizens_words(text, expected):
    codes = dict(NeedCategory.objects.values_list("pk", "code"))
    matcher = NeedMatcher(list(NeedKeyword.objects.values_list("phrase", "category_id")))
    found = matcher.match(text)
    assert (codes[found] if found else None) == expected


def test_whole_words_only():
    matcher = NeedMatcher([("ill", 1), ("job", 2)])
    assert matcher.match("I will pay") is None
    assert matcher.match("jobs") is None
    assert matcher.match("Job centre said no") == 2


def _ledger(write_file):
    rows = "".join(f"R{i},P{i},2024-01-0{i + 1},call,\"{text}\"\n" for i, (text, _) in enumerate(NEEDS))
    path = write_file("needs.csv", "record_id,person_ref,occurred_at,contact_type,presenting_need\n" + rows)
    import_contacts(actor=None, path=path, agency_code="CAB")


def test_classify_the_ledger_and_manual_corrections_stick(write_file):
    _ledger(write_file)
    counts = needs_classify(actor=None)
    assert counts["finances"] == 2 and counts["work"] == 1 and counts["unclassified"] == 1
    weather = Contact.objects.get(record_id="R7")
    assert weather.need_category is None

    volunteer = UserFactory(agency=weather.agency, role="practitioner")
    health = NeedCategory.objects.get(code="health")
    contact_set_need(actor=volunteer, contact=weather, category=health)
    needs_classify(actor=None)
    weather.refresh_from_db()
    assert weather.need_category == health and weather.need_category_manual
    assert AuditEvent.objects.filter(object_type="contact", object_id=str(weather.pk)).exists()


def test_other_agencies_cannot_reclassify(write_file):
    _ledger(write_file)
    outsider = UserFactory(role="practitioner")
    with pytest.raises(PermissionDenied):
        contact_set_need(actor=outsider, contact=Contact.objects.first(), category=None)


def test_default_keywords_place_the_demo_partnerships_phrases():
    """The demo's own phrase table is the truth here; every phrase lands in its category."""
    from onecase.demo.catalogue import NEED_PHRASES

    codes = dict(NeedCategory.objects.values_list("pk", "code"))
    matcher = NeedMatcher(list(NeedKeyword.objects.values_list("phrase", "category_id")))
    wrong = [(text, code) for text, code in NEED_PHRASES.items() if codes.get(matcher.match(text)) != code]
    assert wrong == []
