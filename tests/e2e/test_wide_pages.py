"""The dashboards on a 390 px phone: no page-level sideways scroll (wide tables scroll in their own
region), flags on one line, and 0 axe violations; on a wide screen they use the whole window."""

import pytest

from onecase.accounts.models import Agency, Role
from tests.e2e.test_accessibility import CHROMIUM, assert_accessible, browser, page, sign_in, site  # noqa: F401
from tests.factories import UserFactory
from tests.test_demand import city  # noqa: F401

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]

PAGES = {
    "demand dashboard": "/demand/?until=2025-06-30",
    "failure demand": "/demand/failure/",
    "demands in context": "/demand/in-context/",
    "meeting costs": "/meetings/costs/",
}


def page_width(tab) -> int:
    return tab.evaluate("document.documentElement.scrollWidth")


def test_dashboards_fit_a_phone_and_fill_a_wide_screen(page, city):  # noqa: F811
    UserFactory(username="admin", agency=Agency.objects.get(code="HOUSING"), role=Role.PARTNERSHIP_ADMIN)
    sign_in(page, "admin")
    page.set_viewport_size({"width": 390, "height": 844})
    for name, url in PAGES.items():
        page.goto(url)
        assert page_width(page) <= 390, f"{name} is {page_width(page)} px wide at 390 px"
        assert_accessible(page, f"{name} at 390 px")
    page.goto(PAGES["demand dashboard"])
    ranking = page.get_by_role("region", name="Households with the most contacts")
    # The ranking is wider than the phone, and scrolls inside its own focusable region.
    assert ranking.evaluate("el => el.scrollWidth > el.clientWidth")
    ranking.focus()
    assert page.evaluate("document.activeElement.getAttribute('role')") == "region"
    tag = page.locator(".app-flag", has_text="ASB case review trigger").first
    line = tag.evaluate("el => parseFloat(getComputedStyle(el).lineHeight)")
    assert tag.bounding_box()["height"] < 2 * line  # one line, not a word a line

    page.set_viewport_size({"width": 1600, "height": 900})
    page.goto(PAGES["demand dashboard"])
    main = page.locator("main").bounding_box()
    assert main["width"] > 1400  # not the 960 px column
    assert page_width(page) <= 1600
    assert_accessible(page, "demand dashboard at 1600 px")
