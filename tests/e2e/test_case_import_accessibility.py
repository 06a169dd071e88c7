"""Importing historical cases in Chromium, with errors and after success, and an imported case: 0 axe violations."""

import pytest

from onecase.cases.models import Case
from tests.e2e.test_accessibility import CHROMIUM, assert_accessible, browser, page, sign_in, site  # noqa: F401
from tests.test_case_import import GOOD, HEADER, world  # noqa: F401
from tests.test_demand import city  # noqa: F401

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]


def test_importing_cases_is_accessible(page, world, tmp_path):  # noqa: F811
    sign_in(page, world["admin"].username)
    page.get_by_role("link", name="Import historical cases").click()
    page.wait_for_url("**/cases/import/")
    assert_accessible(page, "import historical cases")

    page.get_by_role("button", name="Import cases").click()
    assert page.locator(".govuk-error-summary").count() == 1
    assert_accessible(page, "import historical cases, no file chosen")

    bad = tmp_path / "bad.csv"
    bad.write_text(f"{HEADER}\nOLD-1,household,POLICE,S1,nobody,2024-01-01,2023-01-01,\n")
    page.get_by_label("Upload a file").set_input_files(str(bad))
    page.get_by_role("button", name="Import cases").click()
    summary = page.locator(".govuk-error-summary").inner_text()
    assert "Line 2, column closed_on: is before opened_on (2024-01-01)" in summary
    assert Case.objects.count() == 0
    assert_accessible(page, "import historical cases, a rejected file")

    good = tmp_path / "cases.csv"
    good.write_text(GOOD)
    page.get_by_label("Upload a file").set_input_files(str(good))
    page.get_by_role("button", name="Import cases").click()
    page.wait_for_url("**/cases/import/")
    assert "2 cases imported, 0 unchanged" in page.locator(".govuk-notification-banner--success").inner_text()
    assert_accessible(page, "import historical cases, imported")

    page.goto(f"/cases/{Case.objects.get(imported_ref='OLD-1').pk}/")
    assert page.get_by_text("Outcomes not recorded (imported case)").count() == 1
    assert_accessible(page, "an imported closed case")
