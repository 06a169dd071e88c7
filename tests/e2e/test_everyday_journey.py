"""Everyday use in Chromium, on the demo partnership, with 0 axe violations on every page.

A food-bank volunteer finds a person by a misspelt name and logs a concern; the household's key
worker sees it on the chronology, filtered to that person; the police's agency administrator uploads
three contacts for the same person under a new reference, and the person's page shows them without
anyone running `link`. Background jobs run through django-q's own worker code, in the request that
queues them (its synchronous mode: the test database lives in this process).
"""

import csv
import io
import time

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Success
from playwright.sync_api import expect

from onecase.accounts.models import Agency, Sector, User
from onecase.cases.models import Case
from onecase.cases.services import case_open
from onecase.contacts.models import Contact
from onecase.linkage import jobs
from onecase.linkage.models import LinkRequest
from onecase.people.models import AgencyPerson, PersonLink
from tests.e2e.test_accessibility import CHROMIUM, assert_accessible, browser  # noqa: F401
from tests.e2e.test_case_journey import demo_sign_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]

CONCERN = "The children have had no hot meal since Friday and the electric has been cut off"
UPLOADED = (
    "Someone has broken into the back door overnight",
    "The people next door are throwing stones at the windows again",
    "Reported the car stolen from outside the house",
)
WAIT_MS = 10_000  # how long a page is looked at again for what should be on it


@pytest.fixture
def site(settings, tmp_path, transactional_db, live_server, monkeypatch):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Queued checks, imports and links run through django-q's worker as soon as they are queued.
    monkeypatch.setattr(Conf, "SYNC", True)
    yield live_server
    cache.clear()


def new_tab(browser, site):  # noqa: F811
    context = browser.new_context(base_url=site.url)
    tab = context.new_page()
    tab.failed, tab.errors = [], []
    tab.on("response", lambda r: r.status >= 400 and tab.failed.append(f"{r.status} {r.url}"))
    tab.on("requestfailed", lambda r: "ERR_ABORTED" not in (r.failure or "") and tab.failed.append(f"failed {r.url}"))
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    return context, tab


@pytest.fixture
def demo(tmp_path, site):
    call_command("load_default_costs", stdout=io.StringIO())
    call_command("demo_data", people=400, out=tmp_path, no_progress=True, stdout=io.StringIO())
    call_command("demo_login", stdout=io.StringIO())


def misspelt(name: str) -> str:
    """Two letters in the middle of a name swapped, as a hurried typist would."""
    i = len(name) // 2
    return name[: i - 1] + name[i] + name[i - 1] + name[i + 1 :]


def the_family():
    """A person the food bank knows, whose household a statutory agency knows too and no case owns yet;
    the food bank's record of them, and their most complete statutory record."""
    statutory = Agency.objects.exclude(sector=Sector.VOLUNTARY)
    live = set(Case.objects.values_list("household_id", flat=True))
    known = (
        PersonLink.objects.filter(undone_at__isnull=True, agency_person__agency__code="FOODBANK")
        .exclude(person__household_id__in=live)
        .select_related("agency_person", "person")
        .order_by("person_id")
    )
    for link in known:
        food_bank_record = link.agency_person
        others = (AgencyPerson.objects.filter(links__person=link.person, links__undone_at__isnull=True,
                                              agency__in=statutory)
                  .exclude(date_of_birth=None).exclude(postcode="").order_by("pk"))
        family_name = food_bank_record.family_name or ""
        if len(family_name) >= 5 and misspelt(family_name) != family_name and others.exists():
            return link.person, food_bank_record, others.first()
    raise AssertionError("the demo partnership has no person the food bank and a statutory agency both know")


def look_until(tab, url: str, text: str) -> None:
    """Open ``url`` again until ``text`` is on it, for up to WAIT_MS."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        tab.goto(url)
        if tab.get_by_text(text, exact=False).count() or time.monotonic() > deadline:
            break
        tab.wait_for_timeout(250)
    expect(tab.get_by_text(text, exact=False).first).to_be_visible()


def test_find_log_see_and_upload(browser, site, demo, tmp_path):  # noqa: F811
    keyworker = User.objects.get(username="demo-keyworker")
    person, food_bank_record, statutory_record = the_family()
    household = person.household
    case_open(actor=None, key_worker=keyworker, household=household, summary="Food, fuel and the children")

    # 1. The food-bank volunteer finds the person by a misspelt name and logs a concern.
    volunteer_context, volunteer = new_tab(browser, site)
    demo_sign_in(volunteer, "demo-foodbank")
    assert_accessible(volunteer, "the volunteer's home page")
    typed = f"{food_bank_record.given_name} {misspelt(food_bank_record.family_name)}"
    volunteer.get_by_label("Find a person").fill(typed)
    volunteer.get_by_role("button", name="Search", exact=True).click()
    volunteer.wait_for_url("**/people/search/?*")
    assert_accessible(volunteer, "search results")
    volunteer.locator(f'main a[href="/people/{person.pk}/"]').first.click()
    volunteer.wait_for_url(f"**/people/{person.pk}/")
    assert_accessible(volunteer, "the person, as the food bank sees them")
    volunteer.get_by_role("link", name="Log a contact or concern").click()
    volunteer.wait_for_url(f"**/people/{person.pk}/contacts/new/")
    assert_accessible(volunteer, "log a concern")
    volunteer.get_by_label("Type of contact").select_option(label="Concern")
    volunteer.get_by_label("What did they ask for?").fill(CONCERN)
    volunteer.get_by_role("button", name="Save contact").click()
    volunteer.wait_for_url(f"**/people/{person.pk}/#chronology")
    expect(volunteer.locator(".govuk-notification-banner--success")).to_be_visible()
    assert_accessible(volunteer, "the person's chronology with the concern")
    volunteer_context.close()
    concern = Contact.objects.get(agency__code="FOODBANK", presenting_need=CONCERN)
    assert (concern.person_id, concern.household_id) == (person.pk, household.pk)
    assert concern.need_category.code == "finances"

    # 2. The key worker sees it on the household's chronology, filtered to that person.
    keyworker_context, tab = new_tab(browser, site)
    demo_sign_in(tab, "demo-keyworker")
    tab.goto(f"/households/{household.pk}/")
    assert_accessible(tab, "the household")
    name = tab.get_by_label("Person", exact=True).locator(f'option[value="{person.pk}"]').inner_text().strip()
    tab.get_by_label("Person", exact=True).select_option(str(person.pk))
    tab.get_by_role("button", name="Apply filters").click()
    tab.wait_for_url(f"**/households/{household.pk}/?*person={person.pk}*")
    look_until(tab, tab.url, CONCERN)
    row = tab.locator("#chronology ~ table tbody tr", has_text=CONCERN)
    expect(row).to_contain_text("Kilnbury Food Bank")
    expect(row).to_contain_text("Financial stability")
    whos = tab.locator("#chronology ~ table tbody tr td:nth-child(2)").all_inner_texts()
    assert whos and set(whos) == {name}  # only that person's contacts
    assert_accessible(tab, "the household's chronology, filtered to the person")

    # 3. The police's agency administrator uploads three contacts for the same person under a new reference.
    admin_context, admin = new_tab(browser, site)
    demo_sign_in(admin, "demo-police-admin")
    admin.goto("/imports/new/")
    assert_accessible(admin, "upload contacts")
    reference = "KIL-POL-NEW-0001"
    assert not AgencyPerson.objects.filter(agency__code="POLICE", person_ref=reference).exists()
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["record_id", "person_ref", "occurred_at", "contact_type", "given_name", "family_name",
                     "date_of_birth", "sex", "address_line", "postcode", "presenting_need"])
    now = timezone.localtime().replace(microsecond=0)
    who = statutory_record
    for hours, words in zip((30, 20, 10), UPLOADED, strict=True):
        writer.writerow([f"KIL-POL-NEW-{hours}", reference, (now - timezone.timedelta(hours=hours)).isoformat(),
                         "incident", who.given_name, who.family_name, who.date_of_birth.isoformat(), who.sex,
                         who.address_line, who.postcode, words])
    upload = tmp_path / "police-contacts.csv"
    upload.write_text(rows.getvalue())
    admin.get_by_label("Agency").select_option("POLICE")
    admin.get_by_label("Upload a file").set_input_files(str(upload))
    admin.get_by_role("button", name="Upload and check").click()
    admin.wait_for_url("**/imports/*/")
    expect(admin.get_by_role("button", name="Start import")).to_be_visible()
    assert_accessible(admin, "the upload, checked")
    admin.get_by_role("button", name="Start import").click()
    expect(admin.get_by_text("Import complete").first).to_be_visible(timeout=WAIT_MS)
    assert_accessible(admin, "the import, complete")
    admin_context.close()
    # Linked by the job the upload queued, run by django-q's worker; nobody ran `link`.
    assert LinkRequest.objects.filter(reason="upload", status=LinkRequest.Status.FINISHED).exists()
    assert Success.objects.filter(func=jobs.TASK).exists()

    # The person's page shows the three contacts, with their need, without anyone running `link`.
    police = Agency.objects.get(code="POLICE")
    for words in UPLOADED:
        look_until(tab, f"/people/{person.pk}/?agency={police.pk}", words)
    uploaded = tab.locator("#chronology ~ table tbody tr", has_text="Reported the car stolen")
    expect(uploaded).to_contain_text("Crime and anti-social behaviour")
    assert_accessible(tab, "the person's chronology with the uploaded contacts")
    keyworker_context.close()
    placed = Contact.objects.filter(agency=police, agency_person__person_ref=reference)
    assert placed.values("person_id").annotate(n=Count("pk")).get() == {"person_id": person.pk, "n": 3}
    assert not placed.filter(need_category=None).exists()
