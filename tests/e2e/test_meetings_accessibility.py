"""The meetings pages in Chromium: 0 axe violations on each, with and without errors."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from onecase.accounts.models import Role
from onecase.cases.services import case_open
from onecase.meetings.models import MeetingType
from onecase.meetings.services import (
    agenda_item_add,
    attendee_add,
    attendee_role_set,
    decision_record,
    meeting_create,
    minutes_write,
    research_note_add,
    series_create,
)
from onecase.people.models import Address, Household, Person
from tests.e2e.test_accessibility import CHROMIUM, assert_accessible, browser, page, sign_in, site  # noqa: F401
from tests.factories import AgencyFactory, UserFactory

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]


def meetings_world():
    police = AgencyFactory(code="POLICE", name="Midshire Police", sector="police")
    csc = AgencyFactory(code="CSC", name="Kilnbury Children's Social Care", sector="council")
    partnership = AgencyFactory(code="PARTNERSHIP", name="Partnership team", sector="council")
    admin = UserFactory(username="meetadmin", role=Role.PARTNERSHIP_ADMIN, agency=partnership,
                        first_name="Pat", last_name="Adams")
    worker = UserFactory(username="cscworker", role=Role.KEY_WORKER, agency=csc, first_name="Kim", last_name="Reed")
    household = Household.objects.create(address=Address.objects.create(postcode="ST1 1AA", line="1 Kiln Row"))
    person = Person.objects.create(household=household)
    case = case_open(actor=None, key_worker=worker, household=household)
    chair = attendee_role_set(actor=None, code="chair", name="Chair", hourly_rate_gbp="58.00")
    social_worker = attendee_role_set(actor=None, code="sw", name="Social worker", hourly_rate_gbp="39.00")
    today = timezone.localdate()
    marac = series_create(actor=None, kind=MeetingType.MARAC, name="Midshire MARAC", chair_agency=police,
                          members=[csc])
    taf = series_create(actor=None, kind=MeetingType.TEAM_AROUND_FAMILY, name="Kilnbury team around the family",
                        chair_agency=csc, members=[police])
    meeting = meeting_create(actor=None, series=marac, held_on=today - dt.timedelta(days=3), status="held")
    attendee_add(actor=None, meeting=meeting, name="DI Ruth Caldwell", agency=police, role=chair, hours="3")
    attendee_add(actor=None, meeting=meeting, name="Kim Reed", agency=csc, role=social_worker, hours="2", user=worker)
    item = agenda_item_add(actor=None, meeting=meeting, household=household, reason="Repeat incidents at home")
    research_note_add(actor=None, item=item, text="Two incidents this month.", agency=police)
    decision_record(actor=None, item=item, text="Safety plan agreed.", actions=[
        {"title": "Safety plan review", "owner": worker, "due_on": today + dt.timedelta(days=14)}])
    minutes_write(actor=None, meeting=meeting, text="Restricted minutes.", recipients=[worker])
    other = meeting_create(actor=None, series=taf, held_on=today - dt.timedelta(days=10), status="held")
    attendee_add(actor=None, meeting=other, name="Kim Reed", agency=csc, role=social_worker, hours="1.5")
    agenda_item_add(actor=None, meeting=other, person=person, reason="School attendance")
    return {"admin": admin, "meeting": meeting, "item": item, "case": case, "marac": marac}


def test_meetings_pages_are_accessible(page):  # noqa: F811
    world = meetings_world()
    meeting, item = world["meeting"], world["item"]
    sign_in(page, "meetadmin")

    page.goto("/meetings/")
    assert page.get_by_role("heading", level=1).inner_text() == "Multi-agency meetings"
    assert_accessible(page, "meeting series")
    page.get_by_role("link", name="Arrange a meeting of Midshire MARAC").click()
    assert_accessible(page, "arrange a meeting")
    page.get_by_role("button", name="Arrange the meeting").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert_accessible(page, "arrange a meeting with errors")

    page.goto(f"/meetings/{meeting.pk}/")
    assert "1 Kiln Row" in page.locator("main").inner_text()
    assert_accessible(page, "meeting page")
    page.get_by_role("button", name="Propose the agenda from the thresholds").click()
    page.wait_for_url(f"**/meetings/{meeting.pk}/")
    assert_accessible(page, "meeting page after proposing")

    for path, button, name in (
        ("attendees/new/", "Add the attendee", "add an attendee"),
        ("agenda/new/", "Add to the agenda", "add to the agenda"),
        (f"agenda/{item.pk}/research/", "Add research", "add research"),
        (f"agenda/{item.pk}/decision/", "Record the decision", "record a decision"),
        ("minutes/edit/", "Save and send the minutes", "write the minutes"),
    ):
        page.goto(f"/meetings/{meeting.pk}/{path}")
        assert_accessible(page, name)
        if page.locator("textarea").count():
            page.locator("textarea").first.fill("")
        page.get_by_role("button", name=button).click()
        expect(page.locator(".govuk-error-summary"), name).to_be_visible()
        assert_accessible(page, f"{name} with errors")

    page.goto(f"/meetings/{meeting.pk}/minutes/")
    assert "Restricted minutes." in page.locator("main").inner_text()
    assert_accessible(page, "minutes")

    page.goto("/meetings/overlaps/")
    assert "Kilnbury team around the family" in page.locator("table").inner_text()
    assert_accessible(page, "overlaps")
    page.goto("/meetings/overlaps/?since=2026-12-01&until=2026-01-01")
    assert_accessible(page, "overlaps with errors")

    page.goto("/meetings/costs/")
    assert page.locator("svg.app-bar-chart").count() == 1
    assert_accessible(page, "meeting costs")
