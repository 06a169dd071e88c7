"""Measures: defining and changing them (partnership administrators only, audited, versioned), their
series counted from hand-built contacts in UK local time, the starter set, and the `measure` command."""

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from onecase.accounts.models import Agency, Role
from onecase.cases.models import Case, Status
from onecase.concurrency import Conflict
from onecase.contacts.models import Contact, DemandClass, NeedCategory
from onecase.measures.models import Measure
from onecase.measures.selectors import measure_read, measure_series, measures_visible_to
from onecase.measures.services import baseline_add, measure_create, measure_update
from onecase.measures.starter import STARTERS, install_starter_measures
from onecase.people.models import Address, AgencyPerson, Household, Person
from onecase.sharing.models import AuditEvent
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def contacts(agency, rows):
    """Contacts of ``agency``: each row (occurred_at UTC, contact_type, extra fields)."""
    person = AgencyPerson.objects.create(agency=agency, person_ref=f"P-{agency.code}-{Contact.objects.count()}")
    start = Contact.objects.count()
    Contact.objects.bulk_create(
        Contact(
            agency=agency,
            record_id=f"R{start + n}",
            agency_person=person,
            occurred_at=when,
            contact_type=kind,
            imported_at=when,
            updated_at=when,
            **extra,
        )
        for n, (when, kind, extra) in enumerate(rows)
    )


def define(slug="rent-arrears", **fields):
    defaults = {"name": "Rent arrears", "description": "Contacts about rent owed.", "tier": 2}
    return measure_create(actor=None, slug=slug, **{**defaults, **fields})


@pytest.fixture
def analyst(db):
    return UserFactory(role=Role.ANALYST, agency=AgencyFactory(code="ANALYSIS"))


# Services ---------------------------------------------------------------------------------------


def test_only_partnership_administrators_define_change_and_rebaseline(partnership_admin, analyst):
    police_admin = UserFactory(role=Role.AGENCY_ADMIN, agency=AgencyFactory(code="POLICE"))
    for user in (analyst, police_admin, UserFactory(role=Role.KEY_WORKER)):
        with pytest.raises(PermissionDenied):
            measure_create(actor=user, slug="x", name="X", description="Y", tier=1)
    assert not Measure.objects.exists()
    measure = define()
    for user in (analyst, police_admin):
        with pytest.raises(PermissionDenied):
            measure_update(actor=user, measure=measure, name="Changed")
        with pytest.raises(PermissionDenied):
            baseline_add(actor=user, measure=measure, start="2025-01", end="2025-06")
    measure.refresh_from_db()
    assert measure.name == "Rent arrears" and not measure.baselines.exists()


def test_writes_are_audited_in_the_same_transaction(partnership_admin):
    Agency.objects.create(code="HOUSING", name="Housing Services", sector="council")
    measure = measure_create(
        actor=partnership_admin,
        slug="rent",
        name="Rent",
        description="Rent owed.",
        tier=2,
        agencies=["HOUSING"],
        contact_types="rent_arrears_contact",
        ip="10.0.0.1",
    )
    created = AuditEvent.objects.get(object_type="measure", object_id=str(measure.pk))
    assert (created.user, created.action, created.ip) == (partnership_admin, "change", "10.0.0.1")
    assert measure.contact_types == ["rent_arrears_contact"] and measure.owner is None

    measure_update(actor=partnership_admin, measure=measure, expected_version=1, name="Rent arrears", tier=3)
    measure.refresh_from_db()
    assert (measure.name, measure.tier, measure.version) == ("Rent arrears", 3, 2)
    changed = AuditEvent.objects.filter(object_type="measure").latest("pk")
    assert changed.detail["fields"] == ["name", "tier"]  # names of the fields, never their values

    baseline = baseline_add(
        actor=partnership_admin,
        measure=measure,
        start="2025-01",
        end="2025-12",
        reason="The year before the new front door.",
    )
    assert (baseline.created_by, baseline.start, baseline.end) == (partnership_admin, "2025-01", "2025-12")
    assert AuditEvent.objects.filter(object_type="measure", detail__baseline=baseline.pk).count() == 1


def test_a_stale_edit_is_refused_with_the_saved_version(partnership_admin):
    measure = define()
    measure_update(actor=partnership_admin, measure=measure, expected_version=1, name="First change")
    with pytest.raises(Conflict) as caught:
        measure_update(
            actor=partnership_admin,
            measure=Measure.objects.get(pk=measure.pk),
            expected_version=1,
            name="Second change",
        )
    assert caught.value.current.name == "First change" and caught.value.current_version == 2
    assert Measure.objects.get(pk=measure.pk).name == "First change"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": " "}, "name"),
        ({"description": ""}, "description"),
        ({"tier": 4}, "tier"),
        ({"period": "day"}, "period"),
        ({"agencies": ["NOWHERE"]}, "agencies"),
        ({"need_categories": ["unheard_of"]}, "need_categories"),
        ({"postcode_district": "not a district"}, "postcode_district"),
        ({"source": "police", "series_name": "burglary"}, "series_name"),
        ({"source": "police", "series_name": "police_street_all", "series_decile": 11}, "series_decile"),
        ({"source": "police", "series_name": "police_street_all", "period": "week"}, "period"),
        ({"owner": "NOWHERE"}, "owner"),
    ],
)
def test_bad_definitions_are_refused_naming_the_field(fields, field):
    with pytest.raises(ValidationError) as caught:
        define(**fields)
    assert field in caught.value.message_dict
    assert not Measure.objects.exists()


def test_codes_are_unique_and_plain():
    define()
    with pytest.raises(ValidationError) as caught:
        define()
    assert "already has the code" in caught.value.message_dict["slug"][0]
    with pytest.raises(ValidationError):
        define(slug="Has Spaces")
    assert Measure.objects.count() == 1


def test_baselines_must_be_periods_in_order_and_must_not_overlap():
    measure = define()
    baseline_add(actor=None, measure=measure, start="2025-01", end="2025-06")
    for start, end, field in (
        ("2025-13", "2025-14", "start"),
        ("2025-08", "2025-08", "end"),
        ("2025-06", "2025-09", "start"),
        ("2025-W01", "2025-W10", "start"),
    ):
        with pytest.raises(ValidationError) as caught:
            baseline_add(actor=None, measure=measure, start=start, end=end)
        assert field in caught.value.message_dict
    baseline_add(actor=None, measure=measure, start="2025-07", end="2025-12")
    assert list(measure.baselines.values_list("start", "end")) == [("2025-01", "2025-06"), ("2025-07", "2025-12")]


# Series -----------------------------------------------------------------------------------------


@pytest.fixture
def ledger(db):
    housing = Agency.objects.create(code="HOUSING", name="Housing Services", sector="council")
    police = Agency.objects.create(code="POLICE", name="Midshire Police", sector="police")
    finances = NeedCategory.objects.get_or_create(code="finances", defaults={"name": "Financial stability"})[0]
    contacts(
        housing,
        [
            (at(2025, 2, 28, 23, 59), "rent_arrears_contact", {}),  # GMT: 28 February
            (at(2025, 3, 1, 0, 30), "rent_arrears_contact", {"need_category": finances}),  # GMT: 1 March
            (
                at(2025, 3, 30, 22, 59),
                "rent_arrears_contact",
                {"demand_class": DemandClass.FAILURE},
            ),  # BST: 23:59, 30 March
            (at(2025, 3, 31, 23, 30), "rent_arrears_contact", {}),  # BST: 00:30 on 1 April
            (at(2025, 3, 31, 22, 59), "repair_request", {}),  # BST: 23:59 on 31 March, another type
            (at(2025, 5, 2, 10, 0), "rent_arrears_contact", {"need_category": finances}),
        ],
    )
    contacts(police, [(at(2025, 4, 10, 12, 0), "asb_report", {}), (at(2025, 4, 11, 12, 0), "asb_report", {})])
    return {"housing": housing, "police": police}


def test_a_month_is_counted_in_uk_local_time_and_empty_months_are_zero(ledger, analyst):
    measure = define(agencies=["HOUSING"], contact_types=["rent_arrears_contact"])
    series = measure_series(analyst, measure, since=dt.date(2025, 1, 1), until=dt.date(2025, 6, 30))
    # 23:30 UTC on 31 March is 00:30 on 1 April in British Summer Time: April.
    assert series == [("2025-01", 0), ("2025-02", 1), ("2025-03", 2), ("2025-04", 1), ("2025-05", 1), ("2025-06", 0)]


def test_weeks_are_iso_weeks_in_uk_local_time(ledger, analyst):
    measure = define(agencies=["HOUSING"], period="week")
    series = dict(measure_series(analyst, measure, since=dt.date(2025, 3, 24), until=dt.date(2025, 4, 6)))
    # Sunday 30 March 23:59 BST is in week 13; Monday 31 March 23:59 BST and 1 April 00:30 BST in week 14.
    assert series == {"2025-W13": 1, "2025-W14": 2}


def test_filters_combine(ledger, analyst):
    span = {"since": dt.date(2025, 1, 1), "until": dt.date(2025, 6, 30)}
    failure = define(slug="failure", agencies=["HOUSING"], demand_class="failure")
    assert sum(v for _, v in measure_series(analyst, failure, **span)) == 1
    money = define(slug="money", need_categories=["finances"])
    assert dict(measure_series(analyst, money, **span)) == {
        "2025-01": 0,
        "2025-02": 0,
        "2025-03": 1,
        "2025-04": 0,
        "2025-05": 1,
        "2025-06": 0,
    }
    asb = define(slug="asb", contact_types=["asb_report", "asb_complaint"])
    assert dict(measure_series(analyst, asb, **span))["2025-04"] == 2
    everything = define(slug="everything")
    assert sum(v for _, v in measure_series(analyst, everything, **span)) == 8


def test_place_cohort_and_households(ledger, analyst):
    home = Household.objects.create(address=Address.objects.create(postcode="ST1 4HH", line="1 High Street"))
    elsewhere = Household.objects.create(address=Address.objects.create(postcode="ST12 1AA", line="2 Low Street"))
    person = Person.objects.create(household=home)
    Contact.objects.filter(agency=ledger["police"]).update(household=home, address=home.address, person=person)
    Contact.objects.filter(contact_type="repair_request").update(household=elsewhere, address=elsewhere.address)
    span = {"since": dt.date(2025, 3, 1), "until": dt.date(2025, 4, 30)}
    st1 = define(slug="st1", postcode_district="st1")
    assert measure_series(analyst, st1, **span) == [("2025-03", 0), ("2025-04", 2)]  # not ST12
    households = define(slug="households", statistic="households")
    assert measure_series(analyst, households, **span) == [("2025-03", 1), ("2025-04", 1)]
    cohort = define(slug="cohort", cohort="live_case")
    assert measure_series(analyst, cohort, **span) == [("2025-03", 0), ("2025-04", 0)]
    Case.objects.create(
        household=home, key_worker=UserFactory(role=Role.KEY_WORKER), status=Status.OPEN, agency=ledger["police"]
    )
    assert measure_series(analyst, cohort, **span) == [("2025-03", 0), ("2025-04", 2)]


def test_the_default_range_runs_from_the_first_contact_to_the_last_whole_month(ledger, analyst):
    series = measure_series(analyst, define(contact_types=["asb_report"]))
    # The ledger's first contact is in February and its last in May (a month that is over); this measure
    # counts only April's two reports, and every other month is there as a zero.
    assert series == [("2025-02", 0), ("2025-03", 0), ("2025-04", 2), ("2025-05", 0)]


def test_only_the_partnership_and_analysts_see_measures(ledger, analyst, partnership_admin):
    measure = define()
    assert list(measures_visible_to(analyst)) == [measure]
    assert list(measures_visible_to(partnership_admin)) == [measure]
    for role in (Role.PRACTITIONER, Role.KEY_WORKER, Role.FRONT_DOOR, Role.AUDITOR, Role.AGENCY_ADMIN):
        user = UserFactory(role=role, agency=ledger["housing"])
        assert not measures_visible_to(user).exists()
        with pytest.raises(PermissionDenied):
            measure_series(user, measure)
        with pytest.raises(PermissionDenied):
            measure_read(user, measure.slug)


def test_reading_a_measure_records_the_view_with_counts_only(ledger, analyst):
    define(agencies=["HOUSING"])
    view = measure_read(analyst, "rent-arrears", ip="10.1.1.1", horizon=0)
    event = AuditEvent.objects.get(action="view", object_type="measure")
    assert event.user == analyst and event.detail == {"points": len(view.series), "api": False}
    with pytest.raises(Measure.DoesNotExist):
        measure_read(analyst, "no-such-measure")


# Starter set ------------------------------------------------------------------------------------


def demo_partnership():
    from onecase.contacts.needs import DEFAULT_CATEGORIES
    from onecase.demo.catalogue import AGENCIES

    for spec in AGENCIES:
        Agency.objects.get_or_create(code=spec.code, defaults={"name": spec.name, "sector": spec.sector})
    for order, (code, name, _) in enumerate(DEFAULT_CATEGORIES):
        NeedCategory.objects.get_or_create(code=code, defaults={"name": name, "order": order})


def test_the_starter_set_covers_three_tiers_and_installing_again_changes_nothing():
    demo_partnership()
    first = install_starter_measures()
    assert len(first.created) == len(STARTERS) and not first.skipped
    assert 30 <= Measure.objects.count() <= 40
    tiers = {t: Measure.objects.filter(tier=t).count() for t in (1, 2, 3)}
    assert all(n >= 5 for n in tiers.values()), tiers
    assert not any(hasattr(m, "target") for m in Measure.objects.all())
    classes = dict(
        Measure.objects.filter(slug__in=["failure-demand-all", "value-demand-all"]).values_list("slug", "demand_class")
    )
    assert classes == {"failure-demand-all": "failure", "value-demand-all": "value"}
    rows = list(Measure.objects.order_by("pk").values())
    events = AuditEvent.objects.count()
    again = install_starter_measures()
    assert not again.created and len(again.unchanged) == len(STARTERS)
    assert list(Measure.objects.order_by("pk").values()) == rows and AuditEvent.objects.count() == events


def test_an_administrators_change_to_a_starter_measure_survives_installing_again(partnership_admin):
    demo_partnership()
    install_starter_measures()
    measure = Measure.objects.get(slug="rent-arrears")
    measure_update(actor=partnership_admin, measure=measure, expected_version=1, name="Rent owed")
    install_starter_measures()
    assert Measure.objects.get(slug="rent-arrears").name == "Rent owed"


def test_starter_measures_naming_missing_agencies_are_skipped():
    Agency.objects.create(code="HOUSING", name="Housing Services", sector="council")
    result = install_starter_measures()
    assert "rent-arrears" in result.created and "arrests" in result.skipped
    assert not Measure.objects.filter(slug="arrests").exists()


# The command line ----------------------------------------------------------------------------------


def run(*args) -> str:
    out = StringIO()
    call_command("measure", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def monthly(db):
    """Rent arrears contacts: 5, 7, 6, 8, 6, 7 in the first half of 2025, then 15, 16, 14, 15, 17, 16."""
    housing = Agency.objects.create(code="HOUSING", name="Housing Services", sector="council")
    values = [5, 7, 6, 8, 6, 7, 15, 16, 14, 15, 17, 16]
    rows = []
    for month, n in enumerate(values, start=1):
        rows += [(at(2025, month, 10, 12, 0), "rent_arrears_contact", {})] * n
    contacts(housing, rows)
    define(agencies=["HOUSING"])
    return values


def limits(values):
    mean = sum(values) / len(values)
    ranges = [abs(b - a) for a, b in zip(values, values[1:], strict=False)]
    mr = sum(ranges) / len(ranges)
    return mean, mean + 2.66 * mr, max(0.0, mean - 2.66 * mr), 3.268 * mr


def test_measure_list():
    demo_partnership()
    install_starter_measures()
    out = run("list")
    assert "rent-arrears" in out and "Rent arrears contacts" in out
    assert f"{len(STARTERS)} measures" in out


def test_xmr_json_has_the_limits_of_the_baseline_and_each_points_signals(monthly):
    data = json.loads(run("xmr", "rent-arrears", "--baseline", "2025-01:2025-06", "--json"))
    mean, unpl, lnpl, url = limits(monthly[:6])
    assert data["mean"] == pytest.approx(mean) and data["unpl"] == pytest.approx(unpl)
    assert data["lnpl"] == pytest.approx(lnpl) and data["url"] == pytest.approx(url)
    assert [p["period"] for p in data["points"]] == [f"2025-{m:02d}" for m in range(1, 13)]
    assert [p["value"] for p in data["points"]] == monthly
    # Every value after the shift is above the baseline's upper limit (about 10.9).
    assert all("outside_limits" in p["signals"] for p in data["points"][6:])
    assert not any(p["signals"] for p in data["points"][:5])
    # June's 7 is above the mean of 6.5, and so are the six after it: a run of 7 on one side.
    assert all("run_of_7" in p["signals"] for p in data["points"][5:])


def test_xmr_uses_the_recorded_baselines_when_none_is_given(monthly):
    baseline_add(actor=None, measure=Measure.objects.get(slug="rent-arrears"), start="2025-01", end="2025-06")
    baseline_add(actor=None, measure=Measure.objects.get(slug="rent-arrears"), start="2025-07", end="2025-12")
    data = json.loads(run("xmr", "rent-arrears", "--json"))
    assert data["mean"] == pytest.approx(limits(monthly[:6])[0])
    assert not any(p["signals"] for p in data["points"][6:] if "outside_limits" in p["signals"])
    assert "Baseline 2025-07 to 2025-12" in run("xmr", "rent-arrears")


def test_xmr_in_words(monthly):
    out = run("xmr", "rent-arrears", "--baseline", "2025-01:2025-06")
    assert "2025-07" in out and "mean" in out and "{" not in out


@pytest.mark.parametrize(
    "args",
    [
        ("xmr", "no-such-measure", "--json"),
        ("xmr", "rent-arrears", "--baseline", "2025-01-2025-06"),
        ("xmr", "rent-arrears", "--baseline", "2025-06:2025-01"),
        ("xmr", "rent-arrears", "--baseline", "2019-01:2019-12"),
        ("forecast", "no-such-measure"),
        ("forecast", "rent-arrears", "--months", "0"),
    ],
)
def test_bad_slug_or_baseline_is_a_clear_error(monthly, args):
    with pytest.raises(CommandError) as caught:
        run(*args)
    assert caught.value.returncode != 0
    assert "Traceback" not in str(caught.value) and str(caught.value)


def test_forecast_json_has_both_methods_with_intervals_and_backtest(monthly):
    data = json.loads(run("forecast", "rent-arrears", "--months", "6", "--json"))
    assert [p["value"] for p in data["history"]] == monthly
    methods = {f["method"]: f for f in data["forecasts"]}
    assert set(methods) == {"seasonal_naive", "ets"}
    for f in methods.values():
        assert set(f["backtest"]) == {"holdout", "mae", "mase"}
        for point in f["points"]:
            assert point["lower"] <= point["value"] <= point["upper"]
    out = run("forecast", "rent-arrears")
    assert "Seasonal" in out or "seasonal" in out
