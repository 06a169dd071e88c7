"""Charts with axes and values: ticks, labels, a tooltip per bar or point, the latest whole value printed;
a month not yet over drawn hollow and dashed, named, and left out of the trend; months with less than a
whole repeat window of history marked on the failure-demand page."""

import csv
import datetime as dt
import io
import re

import pytest
from django.utils import timezone

from onecase.accounts.models import Agency, Role
from onecase.contacts.demand import demand_ranking
from onecase.contacts.services import resolution_refresh
from onecase.imports.services import import_contacts
from onecase.people.models import AgencyPerson, Person, PersonLink
from onecase.web import demand_views, report_views
from onecase.web.charts import (
    THIS_MONTH,
    bar_chart,
    category_chart,
    incomplete_month,
    sparkline,
    ticks,
    trend_words,
)
from tests.auth import sign_in
from tests.factories import UserFactory
from tests.test_demand import city  # noqa: F401  (fixture)

MONTHS = ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]


def bars(svg: str) -> list[str]:
    return re.findall(r"<rect [^>]*><title>[^<]*</title></rect>", svg)


def printed(svg: str) -> list[str]:
    return re.findall(r'font-weight="bold"[^>]*>([^<]*)</text>', svg)


def test_bar_chart_has_labelled_axes_ticks_and_a_value_per_bar():
    series = list(zip(MONTHS, [3, 7, 12, 9, 14, 4], strict=True))
    svg = bar_chart(series, chart_id="c", title="Contacts per month", x_label="Month", y_label="Contacts",
                    months=True)
    assert 'role="img" aria-labelledby="c-title c-desc"' in svg
    assert '<title id="c-title">Contacts per month</title>' in svg and '<desc id="c-desc">' in svg
    assert ">Contacts</text>" in svg and ">Month</text>" in svg  # the axis titles
    assert [f">{t:g}</text>" in svg for t in ticks(14)] == [True] * len(ticks(14))
    assert ticks(14)[-1] >= 14
    assert ">Jan 2025</text>" in svg and ">Jun 2025</text>" in svg  # month ticks in words
    assert [b.split("<title>")[1].split("</title>")[0] for b in bars(svg)] == [
        "January 2025: 3", "February 2025: 7", "March 2025: 12", "April 2025: 9", "May 2025: 14", "June 2025: 4"]
    assert printed(svg) == ["4"]  # with no part month, the last bar's value is printed
    assert "stroke-dasharray" not in svg and THIS_MONTH.capitalize() not in svg


def test_the_month_not_over_is_hollow_dashed_named_and_left_out_of_the_trend():
    series = list(zip(MONTHS, [3, 7, 12, 9, 14, 4], strict=True))
    today = dt.date(2025, 6, 9)
    partial, note = incomplete_month(today, today)
    assert (partial, note) == ("2025-06", THIS_MONTH)
    svg = bar_chart(series, chart_id="c", title="t", x_label="Month", y_label="Contacts", months=True,
                    partial=partial, partial_note=note)
    june = bars(svg)[-1]
    assert 'fill="#ffffff"' in june and "stroke-dasharray" in june and "June 2025: 4 (this month so far)" in june
    assert all("stroke-dasharray" not in b for b in bars(svg)[:-1])
    assert "This month so far: 4" in svg  # the legend, with its value
    # The value printed and the trend are those of May, the last whole month, not the part month's drop.
    assert printed(svg) == ["14"]
    assert "Last whole month, May 2025: 14, up from 9 in April 2025." in svg
    assert trend_words(series, partial=partial) == "Last whole month, May 2025: 14, up from 9 in April 2025."
    assert trend_words(series) == "Last whole month, June 2025: 4, down from 14 in May 2025."


def test_which_month_is_not_over():
    today = dt.date(2025, 6, 30)
    assert incomplete_month(today, today) == ("2025-06", THIS_MONTH)  # today is not over
    assert incomplete_month(dt.date(2026, 1, 31), today) == ("2025-06", THIS_MONTH)  # a later end stops today
    assert incomplete_month(dt.date(2025, 5, 31), today) == (None, "")  # a whole past month
    assert incomplete_month(dt.date(2025, 3, 15), today) == ("2025-03", "up to 15 March 2025 only")


def test_less_history_is_hatched_and_named():
    series = list(zip(MONTHS, [60, 40, 30, 28, 27, 26], strict=True))
    svg = bar_chart(series, chart_id="f", title="t", x_label="Month", y_label="Failure demand (%)", unit="%",
                    months=True, less_history=["2025-01", "2025-02"])
    hatched = [b for b in bars(svg) if "url(#f-hatch)" in b]
    assert [b.split("<title>")[1].split(":")[0] for b in hatched] == ["January 2025", "February 2025"]
    assert "January 2025: 60% (less history)" in svg and ">Less history</text>" in svg
    assert '<pattern id="f-hatch"' in svg and ">60%</text>" in svg


def test_sparkline_values_and_its_part_month():
    svg = sparkline([2, 5, 3, 1], months=MONTHS[2:], chart_id="s1", partial="2025-06")
    assert 'aria-labelledby="s1-title s1-desc"' in svg and 'class="app-sparkline"' in svg
    assert "Contacts per month, March 2025 to June 2025" in svg
    assert "Mar 2025: 2, Apr 2025: 5, May 2025: 3, Jun 2025: 1." in svg
    assert re.findall(r"<title>([^<]*)</title></circle>", svg) == [
        "March 2025: 2", "April 2025: 5", "May 2025: 3", "June 2025: 1 (this month so far)"]
    solid = re.search(r'<polyline [^>]*points="([^"]*)"', svg).group(1)
    assert len(solid.split()) == 3  # the part month is not on the solid line
    assert re.search(r"<line [^>]*stroke-dasharray", svg)  # but joined to it by a dashed one
    assert printed(svg) == ["3"]  # May, the last whole month
    assert "Last whole month, May 2025: 3, down from 5 in April 2025." in svg


def test_category_chart_prints_every_value():
    svg = category_chart([("Housing", 1200), ("Money and debt", 40)], chart_id="k", title="By need",
                         category_label="Need category", value_label="Contacts")
    assert ">Need category</text>" in svg and ">Contacts</text>" in svg
    assert ">1,200</text>" in svg and ">40</text>" in svg and "<title>Money and debt: 40</title>" in svg


class FixedToday:
    """django.utils.timezone as a view module sees it, with today fixed."""

    def __init__(self, day: dt.date):
        self.day = day

    def localdate(self, *args, **kwargs):
        return self.day if not args and not kwargs else timezone.localdate(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(timezone, name)


@pytest.mark.django_db
def test_dashboard_draws_this_month_apart(client, city, monkeypatch):  # noqa: F811
    monkeypatch.setattr(demand_views, "timezone", FixedToday(dt.date(2025, 6, 30)))
    sign_in(client, UserFactory(agency=Agency.objects.get(code="HOUSING"), role=Role.PARTNERSHIP_ADMIN))
    page = client.get("/demand/?until=2025-06-30").content.decode()
    assert page.count('aria-labelledby="spark-household-') == 2  # one id per line, none repeated
    assert "June 2025: 7 (this month so far)" in page  # the Smyths' June, on their line
    assert 'aria-labelledby="contacts-per-month-title contacts-per-month-desc"' in page
    assert "This month so far: 7" in page  # the trend chart's legend: every June contact
    assert "2025-06 <span class=\"govuk-body-s\">(this month so far)</span>" in page  # and its table
    assert "Last whole month, May 2025: 2, up from 0 in April 2025." in page
    assert 'class="govuk-width-container app-width-container--wide"' in page
    assert 'role="region" aria-labelledby="ranking-caption" tabindex="0"' in page


@pytest.mark.django_db
def test_failure_demand_page_explains_months_with_less_history(client, city, settings, monkeypatch):  # noqa: F811
    settings.ONECASE_FAILURE_WINDOW_DAYS = 28
    monkeypatch.setattr(report_views, "timezone", FixedToday(dt.date(2025, 6, 30)))
    sign_in(client, UserFactory(agency=Agency.objects.get(code="POLICE"), role=Role.ANALYST))
    page = client.get("/demand/failure/").content.decode()
    # The first contact is 200 days before 30 June 2025 at noon: 12 December 2024.
    assert "Repeats are counted within 28 days." in page
    assert "The first contacts you may count are from 12 December 2024" in page
    assert "months that start before 9 January 2025" in page and "their share is understated" in page
    rows = re.findall(r'<tr class="govuk-table__row"><th scope="row" class="govuk-table__header">(\d{4}-\d\d)(.*?)</th>',
                      page)
    marks = {month: ("Less history" in rest, "This month so far" in rest) for month, rest in rows}
    assert marks == {"2024-12": (True, False), "2025-05": (False, False), "2025-06": (False, True)}
    assert "url(#failure-per-month-hatch)" in page and 'aria-labelledby="failure-per-month-title' in page
    export = list(csv.DictReader(io.StringIO(client.get("/demand/failure.csv?by=month").content.decode())))
    assert {r["month"]: (r["full_repeat_history"], r["whole_month"]) for r in export} == {
        "2024-12": ("no", "yes"), "2025-05": ("yes", "yes"), "2025-06": ("yes", "no")}


@pytest.mark.django_db
def test_rising_demand_compares_equal_spans_so_a_part_month_neither_hides_nor_fakes_a_rise(write_file):
    """The flag compares the last 90 days with the 90 before, both ending now: on the 3rd of a month the
    part month is three days of a 90-day span, not a month's count set against whole months."""
    now = timezone.make_aware(dt.datetime(2025, 7, 3, 12))
    lines = ["agency,record_id,person_ref,occurred_at,contact_type"]
    # Steady: a contact every 15 days for a year. Rising: none for months, then one every 10 days since April.
    lines += [f"POLICE,S{n},STEADY,{(now - dt.timedelta(days=15 * n)).isoformat()},call" for n in range(1, 25)]
    lines += [f"POLICE,R{n},RISING,{(now - dt.timedelta(days=10 * n + 2)).isoformat()},call" for n in range(9)]
    lines += [f"POLICE,R-old,RISING,{(now - dt.timedelta(days=170)).isoformat()},call"]
    import_contacts(actor=None, path=write_file("steady.csv", "\n".join(lines) + "\n"))
    for record in AgencyPerson.objects.all():
        person = Person.objects.create()
        PersonLink.objects.create(agency_person=record, person=person, match_probability=0.99)
    resolution_refresh()
    flags = {r["person_id"]: r["flags"] for r in demand_ranking(None, by="person", now=now)}
    steady = PersonLink.objects.get(agency_person__person_ref="STEADY").person_id
    rising = PersonLink.objects.get(agency_person__person_ref="RISING").person_id
    assert "rising_demand" not in flags[steady]
    assert "rising_demand" in flags[rising]
