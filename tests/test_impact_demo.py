"""The demo partnership's impact: its historical cases on the revolving-door households, on the Impact
page, in its PDF and from `onecase impact --json`, all agreeing with a count made here.

The expected figures are recomputed from the ledger's contacts and the cost map's unit costs, with
the windows worked out again from the case dates in UK local time (zoneinfo and relativedelta), not
with the impact module's own helpers.
"""

import datetime as dt
import io
import json
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from django.core.management import call_command

from onecase.accounts.models import User
from onecase.cases.models import Case
from onecase.contacts.models import Contact
from onecase.costs.models import UnitCost
from onecase.demo.cases import HISTORICAL
from onecase.demo.generator import DEFAULT_END_DATE
from tests.auth import sign_in

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")
MONTHS = 12


@pytest.fixture
def demo(tmp_path):
    call_command("demo_data", people=400, end_date=DEFAULT_END_DATE, out=tmp_path, no_progress=True,
                 stdout=io.StringIO())
    call_command("demo_login", stdout=io.StringIO())


def recount() -> dict[str, dict[str, tuple[int, Decimal]]]:
    """{case ref: {window: (contacts, cost)}} for every case, from contacts × unit costs."""
    today = dt.datetime.now(LONDON).date()
    price = {(u.agency_id, u.contact_type): u.unit_cost_gbp for u in UnitCost.objects.all()}
    found = {}
    for case in Case.objects.all():
        opened = case.opened_at.astimezone(LONDON).date()
        closed = case.closed_at.astimezone(LONDON).date() if case.closed_at else None
        bounds = {"before": (opened - relativedelta(months=MONTHS), opened),
                  "during": (opened, closed or today + dt.timedelta(days=1))}
        if closed:
            bounds["after"] = (closed, min(closed + relativedelta(months=MONTHS), today + dt.timedelta(days=1)))
        subject = {"household_id": case.household_id} if case.household_id else {"person_id": case.person_id}
        windows = defaultdict(lambda: [0, Decimal("0")])
        for at, agency_id, kind in Contact.objects.filter(**subject).values_list(
                "occurred_at", "agency_id", "contact_type"):
            day = at.astimezone(LONDON).date()
            for name, (start, end) in bounds.items():
                if start <= day < end:
                    windows[name][0] += 1
                    windows[name][1] += price.get((agency_id, kind), Decimal("0"))
        found[case.imported_ref or case.reference] = {name: tuple(windows[name]) for name in bounds}
    return found


def money(value) -> str:
    return f"£{value:,.2f}"


def test_demo_impact_agrees_on_the_page_in_the_pdf_and_at_the_command_line(demo, client):
    from pypdf import PdfReader

    expected = recount()
    imported = {c.ref for c in HISTORICAL}
    assert imported <= set(expected)
    # The historical cases sit on households with real demand before they opened.
    assert all(expected[ref]["before"][0] > 0 for ref in imported)

    out = io.StringIO()
    call_command("impact", "--json", stdout=out)
    data = json.loads(out.getvalue())
    cases = {c["case_ref"]: c for c in data["cases"]}
    assert set(cases) == set(expected)
    for ref, windows in expected.items():
        for window, (contacts, cost) in windows.items():
            figures = cases[ref][window]
            assert (figures["contacts"], Decimal(figures["cost_gbp"])) == (contacts, cost), (ref, window)
    totals = {w: sum((e[w][1] for e in expected.values() if w in e), Decimal("0"))
              for w in ("before", "during", "after")}
    for window, total in totals.items():
        assert Decimal(data["totals"][window]["cost_gbp"]) == total, window
    assert totals["before"] > 0

    sign_in(client, User.objects.get(username="demo-admin"))
    page = client.get("/impact/")
    assert page.status_code == 200
    body = page.content.decode()
    for window in ("before", "during", "after"):
        assert money(totals[window]) in body, window

    pdf = client.get("/impact.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    cover = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert money(totals["before"]) in cover and money(totals["after"]) in cover
