"""Cost per case before, during and after; the old way against the new way; the matched comparison."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onecase.accounts.models import Agency, Role
from onecase.cases.impact import (
    MIN_PROJECTION_MONTHS,
    OTHER_AGENCIES,
    Price,
    add_months,
    case_impact,
    case_windows,
    cohort_totals,
    jsonable,
    price_counts,
    projection,
    window_figures,
)
from onecase.cases.models import Case, Status
from onecase.cases.selectors import case_impact_for, case_impact_read
from onecase.contacts.models import Contact
from onecase.contacts.services import resolution_refresh
from onecase.costs.models import CostItem, UnitCost
from onecase.costs.uprating import uprate
from onecase.people.models import Address, AgencyPerson, Household, Person, PersonLink
from onecase.reports.comparison import matched_comparison
from onecase.sharing.models import AuditEvent
from tests.factories import AgencyFactory, UserFactory

D = Decimal
UTC = dt.UTC
ARREST, VISIT = D("718.50"), D("33.32")


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_gmca_uprating_593_in_2006_07_is_718_50_in_2015_16(db):
    arrest = CostItem.objects.get(code="CR7.0")
    assert (arrest.fiscal_value_gbp, arrest.fiscal_price_year) == (D("593"), "2006-07")
    assert uprate(arrest.fiscal_value_gbp, "2006/07", "2015/16") == D("718.50")


def test_calendar_months_keep_to_the_end_of_the_month():
    assert add_months(dt.date(2024, 3, 31), -1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2024, 3, 31), -12) == dt.date(2023, 3, 31)
    assert add_months(dt.date(2024, 10, 27), 12) == dt.date(2025, 10, 27)
    assert add_months(dt.date(2024, 1, 31), 13) == dt.date(2025, 2, 28)


# A case around two clock changes ------------------------------------------------------------------


def household_with(n: int = 1) -> Household:
    address = Address.objects.create(postcode=f"ST{n} 1AA", number=str(n), street="high street",
                                     line=f"{n} High Street, ST{n} 1AA")
    return Household.objects.create(address=address)


def agency_person(agency: Agency, ref: str, person: Person) -> AgencyPerson:
    record = AgencyPerson.objects.create(agency=agency, person_ref=ref)
    PersonLink.objects.create(agency_person=record, person=person, match_probability=0.99)
    return record


def contact(record: AgencyPerson, at: dt.datetime, contact_type: str, n: list = [0]):  # noqa: B006
    n[0] += 1
    return Contact.objects.create(agency=record.agency, record_id=f"R{n[0]}", agency_person=record, occurred_at=at,
                                  contact_type=contact_type, imported_at=at, updated_at=at)


@pytest.fixture
def around(db):
    """A household case opened on 31 March 2024 (clocks go forward) at 09:00 and closed on 27 October 2024
    (clocks go back) at 10:00, with contacts on and either side of every boundary, in UTC."""
    police, housing = AgencyFactory(code="POLICE", name="Police"), AgencyFactory(code="HOUSING", name="Housing")
    UnitCost.objects.create(agency=police, contact_type="arrest", unit_cost_gbp=ARREST, price_year="2015-16",
                            cost_item_id="CR7.0")
    UnitCost.objects.create(agency=housing, contact_type="tenancy_visit", unit_cost_gbp=VISIT, price_year="2019-20")
    home = household_with()
    person = Person.objects.create(household=home)
    p, h = agency_person(police, "P1", person), agency_person(housing, "H1", person)
    # Before: [2023-03-31, 2024-03-31), UK dates.
    contact(p, utc(2023, 3, 30, 22, 30), "arrest")  # 23:30 BST on 30 March 2023: a day too early
    contact(p, utc(2023, 3, 30, 23, 0), "arrest")  # midnight BST starting 31 March 2023: the first instant
    contact(p, utc(2023, 6, 15, 12, 0), "arrest")
    contact(h, utc(2024, 3, 30, 23, 59), "tenancy_visit")  # 23:59 GMT on 30 March 2024: the last minute
    # During: [2024-03-31, 2024-10-27).
    contact(h, utc(2024, 3, 31, 0, 30), "tenancy_visit")  # 00:30 GMT, before the clocks go forward and before 09:00
    contact(p, utc(2024, 3, 31, 1, 30), "arrest")  # 02:30 BST on the opening day
    contact(p, utc(2024, 7, 1, 9, 0), "welfare_check")  # no unit cost: counted, costs nothing
    contact(h, utc(2024, 10, 26, 22, 59, 59), "tenancy_visit")  # 23:59:59 BST on 26 October: the last second
    # After: [2024-10-27, 2025-10-27), counted up to 30 June 2025.
    contact(p, utc(2024, 10, 26, 23, 0), "arrest")  # midnight BST starting 27 October: the first instant
    contact(h, utc(2024, 10, 27, 0, 30), "tenancy_visit")  # 01:30 BST, the first time round
    contact(h, utc(2024, 10, 27, 1, 30), "tenancy_visit")  # 01:30 GMT, the second time round
    contact(h, utc(2025, 6, 30, 22, 59), "tenancy_visit")  # 23:59 BST today
    contact(p, utc(2025, 6, 30, 23, 0), "arrest")  # midnight BST starting tomorrow: not counted yet
    resolution_refresh()
    kw = UserFactory(username="kw", agency=police, role=Role.KEY_WORKER)
    case = Case.objects.create(household=home, key_worker=kw, agency=police, status=Status.CLOSED,
                               opened_at=utc(2024, 3, 31, 8, 0), closed_at=utc(2024, 10, 27, 10, 0))
    return {"case": case, "home": home, "person": person, "police": police, "housing": housing, "kw": kw}


TODAY = dt.date(2025, 6, 30)


def test_before_during_and_after_to_the_penny(around):
    impact = case_impact(around["case"], months=12, today=TODAY)
    before, during, after = impact["before"], impact["during"], impact["after"]
    assert (impact["opened_on"], impact["closed_on"]) == (dt.date(2024, 3, 31), dt.date(2024, 10, 27))

    assert (before["starts_on"], before["ends_before"], before["complete"]) == (
        dt.date(2023, 3, 31), dt.date(2024, 3, 31), True)
    assert before["contacts"] == 3 and before["cost_gbp"] == 2 * ARREST + VISIT == D("1470.32")
    assert before["by_agency"]["POLICE"] == {"name": "Police", "contacts": 2, "cost_gbp": 2 * ARREST}
    assert before["by_agency"]["HOUSING"]["cost_gbp"] == VISIT

    assert during["contacts"] == 4 and during["unpriced_contacts"] == 1
    assert during["cost_gbp"] == ARREST + 2 * VISIT == D("785.14")
    assert during["by_agency"]["POLICE"] == {"name": "Police", "contacts": 2, "cost_gbp": ARREST}

    assert after["complete"] is False and after["counted_until"] == dt.date(2025, 7, 1)
    assert after["contacts"] == 4 and after["cost_gbp"] == ARREST + 3 * VISIT == D("818.46")
    # The annualised figure sits under its own key: 247 of the window's 365 days counted.
    assert (after["days"], after["days_counted"]) == (365, 247)
    assert after["annualised_cost_gbp"] == (D("818.46") * 365 / 247).quantize(D("0.01"))
    assert "annualised_cost_gbp" not in before


def test_values_name_the_unit_costs_and_keep_economic_and_social_apart(around):
    before = case_impact(around["case"], today=TODAY)["before"]
    arrest = next(u for u in before["unit_costs"] if u["contact_type"] == "arrest")
    assert arrest | {"contacts": 2} == arrest
    assert (arrest["unit_cost_gbp"], arrest["price_year"], arrest["cost_code"]) == (ARREST, "2015-16", "CR7.0")
    values = before["values"]
    # The arrest row has no economic or social value; the visit has no GMCA row.
    assert values == {"fiscal_gbp": D("1470.32"), "economic_gbp": D("0.00"), "social_gbp": D("0.00"),
                      "transfer_payments_gbp": D("0.00"), "public_value_gbp": D("1470.32")}


def test_a_relink_shows_at_once(around):
    other_home = household_with(2)
    stranger = Person.objects.create(household=other_home)
    record = agency_person(around["police"], "P2", stranger)
    contact(record, utc(2023, 9, 1, 12, 0), "arrest")
    resolution_refresh()
    assert case_impact(around["case"], today=TODAY)["before"]["contacts"] == 3
    link = PersonLink.objects.get(agency_person=record)
    PersonLink.objects.filter(pk=link.pk).update(undone_at=utc(2025, 1, 1))
    PersonLink.objects.create(agency_person=record, person=around["person"], match_probability=0.95)
    resolution_refresh()
    before = case_impact(around["case"], today=TODAY)["before"]
    assert before["contacts"] == 4 and before["cost_gbp"] == 3 * ARREST + VISIT


def test_a_live_case_has_no_after_window_and_no_new_way(around):
    case = around["case"]
    Case.objects.filter(pk=case.pk).update(status=Status.ACTIVE, closed_at=None)
    case.refresh_from_db()
    impact = case_impact(case, today=TODAY)
    assert "after" not in impact and impact["during"]["complete"] is False
    assert impact["during"]["counted_until"] == dt.date(2025, 7, 1)
    assert impact["projection"]["new_way"]["made"] is False
    assert "still open" in impact["projection"]["new_way"]["reason"]


def test_economic_social_and_transfer_values(around):
    police = around["police"]
    UnitCost.objects.create(agency=police, contact_type="domestic_abuse_incident", unit_cost_gbp=D("2470"),
                            price_year="2015-16", cost_item_id="CR2.0")
    UnitCost.objects.create(agency=around["housing"], contact_type="training", unit_cost_gbp=D("82.70"),
                            price_year="2010-11", cost_item_id="E&S5.0")
    record = AgencyPerson.objects.get(person_ref="P1")
    contact(record, utc(2023, 12, 1, 12, 0), "domestic_abuse_incident")
    contact(AgencyPerson.objects.get(person_ref="H1"), utc(2023, 12, 2, 12, 0), "training")
    resolution_refresh()
    values = case_impact(around["case"], today=TODAY)["before"]["values"]
    economic = uprate(1473, "2008-09", "2015-16") + D("443.00")
    social = uprate(6795, "2008-09", "2015-16")
    fiscal = 2 * ARREST + VISIT + D("2470") + D("82.70")
    assert values["economic_gbp"] == economic and values["social_gbp"] == social
    assert values["fiscal_gbp"] == fiscal and values["transfer_payments_gbp"] == D("82.70")
    assert values["public_value_gbp"] == fiscal - D("82.70") + economic + social


def test_case_team_sees_other_agencies_only_as_far_as_agreements_allow(around):
    impact = case_impact_for(around["kw"], around["case"], today=TODAY)
    before = impact.figures["before"]
    # Police's own figures are named; housing's, with no agreement, are totalled unnamed.
    assert set(before["by_agency"]) == {"POLICE", OTHER_AGENCIES}
    assert before["by_agency"][OTHER_AGENCIES]["cost_gbp"] == VISIT and "Housing" not in str(before["by_agency"])
    assert all(u["agency"] == "POLICE" for u in before["unit_costs"])
    assert before["cost_gbp"] == D("1470.32")
    assert set(impact.shown) == {around["police"].pk}

    views = AuditEvent.objects.filter(object_type="case", purpose="case impact")
    assert not views.exists()
    case_impact_read(around["kw"], around["case"], today=TODAY)
    assert views.count() == 1


def test_impact_is_json_ready(around):
    import json

    data = jsonable(case_impact(around["case"], today=TODAY))
    text = json.loads(json.dumps(data))
    assert text["case_ref"] == around["case"].reference and text["after"]["complete"] is False
    assert text["before"]["by_agency"]["POLICE"] == {"name": "Police", "contacts": 2, "cost_gbp": "1437.00"}
    assert text["after"]["annualised_cost_gbp"] != text["after"]["cost_gbp"]


def test_an_imported_case_is_known_by_its_old_reference(around):
    case = around["case"]
    Case.objects.filter(pk=case.pk).update(imported_ref="OLD-0042")
    case.refresh_from_db()
    assert case_impact(case, today=TODAY)["case_ref"] == "OLD-0042"


# Windows over any dates ---------------------------------------------------------------------------

PRICES = {(1, "a"): Price(1, "a", D("10.05"), "2019-20", "", ""), (2, "b"): Price(2, "b", D("3.33"), "2019-20", "", "")}
AGENCIES = {1: ("ONE", "One"), 2: ("TWO", "Two")}
days = st.dates(min_value=dt.date(2019, 1, 1), max_value=dt.date(2027, 12, 31))


@settings(max_examples=60, deadline=None)
@given(opened=days, length=st.integers(min_value=0, max_value=900), months=st.integers(min_value=1, max_value=24),
       today=days, rows=st.lists(st.tuples(days, st.sampled_from([(1, "a"), (2, "b"), (1, "z")])), max_size=60))
def test_the_windows_add_up_to_the_whole(opened, length, months, today, rows):
    closed = opened + dt.timedelta(days=length)
    today = max(today, closed)
    windows = case_windows(opened, closed, months=months, today=today)
    flat = [(day, agency, kind) for day, (agency, kind) in rows]
    parts = [window_figures(w, flat, PRICES, AGENCIES) for w in windows.values()]
    start, end = windows["before"].starts_on, windows["after"].counted_until
    counts: dict = {}
    for day, agency, kind in flat:
        if start <= day < end:
            counts[(agency, kind)] = counts.get((agency, kind), 0) + 1
    whole = price_counts(counts, PRICES, AGENCIES)
    assert sum(p["contacts"] for p in parts) == whole["contacts"]
    assert sum(p["cost_gbp"] for p in parts) == whole["cost_gbp"]
    for code in whole["by_agency"]:
        assert sum(p["by_agency"].get(code, {}).get("cost_gbp", 0) for p in parts) == whole["by_agency"][code][
            "cost_gbp"]
    assert windows["before"].ends_before == windows["during"].starts_on == opened
    assert windows["during"].ends_before == windows["after"].starts_on == closed


# Projection -------------------------------------------------------------------------------------


def series(values):
    return [(n, D(n) * D("50.00")) for n in values]


def test_old_way_and_new_way_from_straight_lines():
    result = projection(series([10] * 12), series([2] * 6), gap_months=6, horizon=12)
    old, new = result["old_way"], result["new_way"]
    assert old["contacts"]["projected"] == 120 and new["contacts"]["projected"] == 24
    assert old["cost_gbp"]["projected"] == D("6000.00") and new["cost_gbp"]["projected"] == D("1200.00")
    assert result["difference"] == {"contacts": 96, "cost_gbp": D("4800.00")}
    # A perfect line leaves no uncertainty.
    assert old["contacts"]["low"] == old["contacts"]["high"] == 120
    assert "straight line" in result["method"] and "6 months" in result["method"]


def test_a_rising_trend_goes_on_rising_and_the_band_holds_the_projection():
    values = [1, 3, 2, 4, 3, 5, 4, 6, 5, 7, 6, 8]
    result = projection(series(values), None, gap_months=0, horizon=3)
    old = result["old_way"]["contacts"]
    # Least squares by hand: x = 0..11, slope = Σ(x − x̄)(y − ȳ) / Σ(x − x̄)², then months 12, 13 and 14.
    x_mean, y_mean = 5.5, sum(values) / 12
    slope = sum((x - x_mean) * (y - y_mean) for x, y in enumerate(values)) / sum((x - x_mean) ** 2 for x in range(12))
    intercept = y_mean - slope * x_mean
    assert old["projected"] == pytest.approx(sum(intercept + slope * x for x in (12, 13, 14)), abs=0.05)
    assert old["per_month_trend"] == pytest.approx(slope, abs=0.05)
    assert old["low"] < old["projected"] < old["high"] and old["per_month_trend"] > 0


def test_no_projection_from_fewer_than_six_months():
    result = projection(series([4] * 12), series([1] * (MIN_PROJECTION_MONTHS - 1)), gap_months=2, horizon=12)
    assert result["old_way"]["made"] is True
    assert result["new_way"] == {"made": False, "months_of_data": 5,
                                 "reason": "Only 5 months of data after the case closed: a projection needs at "
                                           "least 6."}
    assert "difference" not in result


def test_a_cohort_adds_its_cases_up(around):
    first = case_impact(around["case"], today=TODAY)
    second = case_impact(around["case"], today=dt.date(2025, 12, 31))
    totals = cohort_totals([first, second])
    assert totals["before"]["cost_gbp"] == 2 * first["before"]["cost_gbp"]
    assert totals["after"]["cases_complete"] == 1 and totals["after"]["contacts"] == 4 + 5
    assert totals["before"]["by_agency"]["POLICE"]["contacts"] == 4
    old = totals["projection"]["old_way"]
    assert old["cases_projected"] == 2
    assert old["cost_gbp"]["projected"] == (first["projection"]["old_way"]["cost_gbp"]["projected"]
                                            + second["projection"]["old_way"]["cost_gbp"]["projected"])


# Matched comparison -------------------------------------------------------------------------------


def test_matched_comparison_picks_the_nearest_household_without_a_case(around):
    police = around["police"]
    near, far = household_with(3), household_with(4)
    for n, (home, before, after) in enumerate(((near, 2, 2), (far, 8, 0)), start=1):
        person = Person.objects.create(household=home)
        record = agency_person(police, f"C{n}", person)
        for k in range(before):
            contact(record, utc(2023, 7, 1 + k, 12), "arrest")
        for k in range(after):
            contact(record, utc(2025, 1, 1 + k, 12), "arrest")
    resolution_refresh()
    result = matched_comparison([around["case"]], today=TODAY)
    (pair,) = result["pairs"]
    assert pair["comparison_id"] == near.pk  # 2 arrests before, like the case's 3 contacts, not 8
    assert pair["case"]["before"] == {"contacts": 3, "cost_gbp": D("1470.32")}
    assert pair["case"]["after"] == {"contacts": 4, "cost_gbp": D("818.46")}
    assert pair["comparison"]["change"] == {"contacts": 0, "cost_gbp": D("0.00")}
    case_change = D("818.46") - D("1470.32")
    assert pair["difference_in_differences"] == {"contacts": 1, "cost_gbp": case_change - 0}
    assert result["difference_in_differences"]["cost_gbp"] == case_change
    assert "comparison_id" not in str({k: v for k, v in result.items() if k != "pairs"})
