"""The key worker's journey in Chromium, on the demo partnership, with 0 axe violations on every page.

Open a case on the top household that needs an owner, record two needs in the citizen's words,
pull in a housing officer for 30 days, see what they add on the chronology, revoke, and the
officer's next request is refused. Every step leaves audit events, which are counted.
"""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from onecase.accounts.models import User
from onecase.cases.models import Case, Grant
from onecase.contacts.demand import demand_ranking
from onecase.demo.management.commands.demo_login import DEFAULT_PASSWORD
from onecase.sharing.models import AuditEvent
from tests.auth import current_code
from tests.e2e.test_accessibility import CHROMIUM, assert_accessible, browser, page, site  # noqa: F401

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]


def demo_sign_in(tab, username: str) -> None:
    """The demo account's password, then the code from its authenticator."""
    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    tab.goto("/sign-in/")
    tab.get_by_label("Username").fill(username)
    tab.get_by_label("Password").fill(DEFAULT_PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url("**/two-factor/**")
    assert_accessible(tab, "two-factor page")
    tab.get_by_label("Enter your security code").fill(current_code(device))
    tab.get_by_role("button", name="Continue").click()
    tab.wait_for_url("**/")


@pytest.fixture
def demo(tmp_path):
    # A live-server test before this one may have flushed the reference data the migrations load.
    call_command("load_default_costs", stdout=io.StringIO())
    call_command("demo_data", people=400, out=tmp_path, no_progress=True, stdout=io.StringIO())
    call_command("demo_login", stdout=io.StringIO())
    return tmp_path


def test_open_pull_in_and_revoke(page, browser, site, demo):  # noqa: F811
    keyworker = User.objects.get(username="demo-keyworker")
    expected = next(r for r in demand_ranking(keyworker, by="household", top=20) if "needs_owner" in r["flags"])
    counts = {}

    def audited(step):
        counts[step] = AuditEvent.objects.count()

    # 1. The key worker signs in with a TOTP code.
    demo_sign_in(page, "demo-keyworker")
    audited("signed in")

    # 2. A case on the top household that needs an owner, from the demand dashboard.
    page.get_by_role("link", name="Demand").click()
    assert_accessible(page, "demand dashboard")
    page.get_by_role("link", name="Open a case").first.click()
    page.wait_for_url(f"**/cases/open/?household={expected['household_id']}")
    assert_accessible(page, "open a case: search before create")
    page.get_by_label("The real problems to solve").fill("Rent arrears, a job, and the neighbours")
    page.get_by_role("button", name="Open the case").click()
    page.wait_for_url("**/cases/*/")
    case = Case.objects.get(imported_ref="")  # the demo also holds historical cases, imported
    assert case.household_id == expected["household_id"] and case.key_worker == keyworker
    assert_accessible(page, "the case")
    audited("opened")

    # 3. Two needs in the citizen's own words.
    for words in ("I can't pay my rent and they want to evict us", "help me find a job"):
        page.get_by_role("link", name="Record a need in the citizen's words").click()
        assert_accessible(page, "record a need")
        page.get_by_label("The need, in the citizen's own words").fill(words)
        page.get_by_role("button", name="Save the need").click()
        page.wait_for_url(f"**/cases/{case.pk}/")
    assert [n.words for n in case.needs.all()] == ["I can't pay my rent and they want to evict us",
                                                    "help me find a job"]
    assert all(n.category_id for n in case.needs.all())
    audited("needs")

    # 4. Pull in the housing officer for 30 days (an empty form shows its errors first).
    page.get_by_role("link", name="Pull someone in").click()
    page.get_by_label("Until").fill("")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert_accessible(page, "pull someone in, with errors")
    page.get_by_label("Who to pull in").select_option(label="demo-housing (Practitioner, Kilnbury City Council Housing Services)")
    page.get_by_label("Purpose").fill("Tenancy sustainment: stop the eviction")
    until = timezone.localdate() + dt.timedelta(days=30)
    page.get_by_label("Until").fill(until.isoformat())
    page.get_by_role("button", name="Send the invitation").click()
    page.wait_for_url(f"**/cases/{case.pk}/")
    grant = Grant.objects.get()
    assert grant.invitee.username == "demo-housing" and grant.ends_on == until and grant.agreement is not None
    audited("invited")

    # 5. The officer signs in, accepts, and adds a note and an action.
    officer_context = browser.new_context(base_url=site.url)
    officer = officer_context.new_page()
    officer.failed, officer.errors = [], []
    officer.on("pageerror", lambda error: officer.errors.append(str(error)))
    demo_sign_in(officer, "demo-housing")
    officer.get_by_role("link", name="Cases", exact=True).click()
    assert_accessible(officer, "my cases with an invitation")
    officer.get_by_role("button", name=f"Accept {case.reference}").click()
    officer.wait_for_url(f"**/cases/{case.pk}/")
    assert_accessible(officer, "the case, pulled in")
    officer.get_by_role("link", name="Add a note").click()
    officer.get_by_label("Note").fill("Visited: the landlord will pause the eviction for a payment plan")
    officer.get_by_role("button", name="Save the note").click()
    officer.wait_for_url(f"**/cases/{case.pk}/")
    officer.get_by_role("link", name="Add an action").click()
    assert_accessible(officer, "add an action")
    officer.get_by_label("What needs to be done").fill("Agree a payment plan with the landlord")
    officer.get_by_role("button", name="Save the action").click()
    officer.wait_for_url(f"**/cases/{case.pk}/")
    audited("officer added")

    # 6. The key worker sees both on the chronology.
    page.reload()
    chronology = page.locator("#chronology + p + table")
    assert "landlord will pause the eviction" in chronology.inner_text()
    assert "Agree a payment plan with the landlord" in chronology.inner_text()
    assert_accessible(page, "the case with the officer's note and action")

    # 7. The key worker revokes the grant.
    page.get_by_role("button", name="Revoke the pull-in of demo-housing").click()
    page.wait_for_url(f"**/cases/{case.pk}/")
    assert_accessible(page, "the case after revoking")
    audited("revoked")

    # 8. The officer's next request is refused.
    response = officer.goto(f"/cases/{case.pk}/")
    assert response.status == 404
    officer_context.close()
    audited("refused")

    steps = list(counts)
    for before, after in zip(steps, steps[1:], strict=False):
        assert counts[after] > counts[before], f"no audit event for {after}"
    changes = list(AuditEvent.objects.filter(object_type="case", object_id=str(case.pk), action="change")
                   .order_by("pk").values_list("username", "purpose"))
    assert changes == [
        ("demo-keyworker", "case opened"),
        ("demo-keyworker", "need recorded"),
        ("demo-keyworker", "need recorded"),
        ("demo-keyworker", "pull-in invited"),
        ("demo-housing", "pull-in accepted"),
        ("demo-housing", "note added"),
        ("demo-housing", "action added"),
        ("demo-keyworker", "pull-in revoked"),
    ]
    # The password and the second factor are each recorded, for both people.
    signed_in = AuditEvent.objects.filter(action="sign_in", username__in=["demo-keyworker", "demo-housing"])
    assert sorted(signed_in.values_list("username", flat=True)) == ["demo-housing"] * 2 + ["demo-keyworker"] * 2
    assert AuditEvent.objects.filter(action="view", object_type="case", object_id=str(case.pk)).count() >= 8
    assert AuditEvent.objects.filter(action="refused", username="demo-housing").count() == 1
