"""Street-level crime: importing the published data.police.uk files bundled with the product, the
monthly series they make, and refusing bad files whole."""

from __future__ import annotations

import gzip
import re

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from onecase.audit.models import AuditEvent
from onecase.places import police_street_files
from onecase.places.models import PoliceStreetCrime
from onecase.places.police_format import PlacesImportRejected
from onecase.places.series import police_series, police_series_label, police_series_names, series_name_for
from onecase.places.services import police_street_import

HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
    "Last outcome category,Context"
)
ROW = (
    "abc123,2017-05,City of London Police,City of London Police,-0.106453,51.518207,On or near Charterhouse Street,"
    "E01000916,Camden 027B,Other theft,Investigation complete; no suspect identified,"
)
ASB = (
    ",2017-05,City of London Police,City of London Police,-0.114954,51.518632,On or near Brownlow Street,"
    "E01000914,Camden 028B,Anti-social behaviour,,"
)


@pytest.fixture(scope="module")
def bundled(django_db_setup, django_db_blocker):
    """All 45 bundled monthly files imported once for the module, inside a transaction rolled back at its end."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield police_street_import(actor=None, paths=police_street_files())
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _rows_in_files() -> int:
    total = 0
    for path in police_street_files():
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            total += sum(1 for line in handle if line.strip()) - 1
    return total


def test_the_bundled_files_are_45_months_from_2018_01_to_2021_09():
    files = police_street_files()
    assert len(files) == 45
    assert files[0].name == "2018-01-city-of-london-street.csv.gz"
    assert files[-1].name == "2021-09-city-of-london-street.csv.gz"


def test_every_row_of_every_file_is_imported(bundled, db):
    assert bundled.files == 45
    assert bundled.rows == bundled.added == PoliceStreetCrime.objects.count() == _rows_in_files()
    assert bundled.months[0] == "2018-01" and bundled.months[-1] == "2021-09" and len(bundled.months) == 45
    event = AuditEvent.objects.filter(action=AuditEvent.Action.IMPORT, object_type="police_street").latest("at")
    assert event.detail["added"] == bundled.added and event.detail["months"] == 45


def test_all_street_crime_2018_2019_baseline_gives_the_published_limits(bundled, db):
    series = police_series("police_street_all")
    assert [month for month, _ in series][:2] == ["2018-01", "2018-02"] and len(series) == 45
    baseline = [value for month, value in series if "2018-01" <= month <= "2019-12"]
    assert len(baseline) == 24
    mean = sum(baseline) / 24
    average_moving_range = sum(abs(b - a) for a, b in zip(baseline, baseline[1:], strict=False)) / 23
    unpl, lnpl = mean + 2.66 * average_moving_range, mean - 2.66 * average_moving_range
    assert round(mean, 2) == 774.08
    assert round(unpl, 2) == 973.01
    assert round(lnpl, 2) == 575.16
    first_below = next(month for month, value in series if value < lnpl)
    assert first_below == "2020-04"


def test_the_xmr_engine_agrees_on_the_published_limits(bundled, db):
    xmr = pytest.importorskip("onecase.measures.xmr")
    chart = xmr.xmr_chart(police_series("police_street_all"), baselines=[("2018-01", "2019-12")])
    baseline = chart.baselines[0]
    assert (round(baseline.mean, 2), round(baseline.unpl, 2), round(baseline.lnpl, 2)) == (774.08, 973.01, 575.16)
    assert next(p.period for p in chart.points if p.value < p.lnpl) == "2020-04"


def test_importing_the_same_files_again_changes_nothing(bundled, db):
    before = PoliceStreetCrime.objects.count()
    again = police_street_import(actor=None, paths=police_street_files())
    assert again.added == 0 and again.already_present == again.rows == before
    assert PoliceStreetCrime.objects.count() == before


def test_anti_social_behaviour_rows_and_rows_without_a_place_are_kept(bundled, db):
    asb = PoliceStreetCrime.objects.filter(crime_type="Anti-social behaviour")
    assert asb.exists() and not asb.exclude(crime_id="").exists()
    unplaced = PoliceStreetCrime.objects.filter(lsoa_code="")
    assert unplaced.exists()
    assert unplaced.filter(longitude__isnull=True, latitude__isnull=True).count() == unplaced.count()
    assert sum(v for _, v in police_series("police_street_anti_social_behaviour")) == asb.count()


def test_each_crime_type_has_a_series_and_they_add_up_to_all(bundled, db):
    names = police_series_names()
    assert names[0] == "police_street_all"
    assert "police_street_anti_social_behaviour" in names
    assert "police_street_violence_and_sexual_offences" in names
    totals = [0] * 45
    for name in names[1:]:
        for i, (_, value) in enumerate(police_series(name)):
            totals[i] += value
    assert totals == [value for _, value in police_series("police_street_all")]
    assert police_series_label("police_street_anti_social_behaviour") == (
        "Street crime: anti-social behaviour (City of London Police)"
    )
    with pytest.raises(KeyError):
        police_series("police_street_no_such_thing")


def test_a_series_for_one_small_area_is_zero_filled_over_every_month(bundled, db):
    area = PoliceStreetCrime.objects.exclude(lsoa_code="").values_list("lsoa_code", flat=True).first()
    series = police_series("police_street_all", lsoa=area)
    assert len(series) == 45
    assert sum(v for _, v in series) == PoliceStreetCrime.objects.filter(lsoa_code=area).count()


@given(st.text(max_size=60))
def test_series_names_are_lower_case_words_joined_by_underscores(crime_type):
    name = series_name_for(crime_type)
    assert re.fullmatch(r"police_street_[a-z0-9]+(_[a-z0-9]+)*", name)


def test_series_name_rule():
    assert series_name_for("Anti-social behaviour") == "police_street_anti_social_behaviour"
    assert series_name_for("Criminal damage and arson") == "police_street_criminal_damage_and_arson"
    assert series_name_for("  Theft -- from the person!! ") == "police_street_theft_from_the_person"


def test_plain_and_gzipped_files_import_and_identical_rows_are_both_kept(db, write_file):
    before = PoliceStreetCrime.objects.count()
    plain = write_file("2017-05-street.csv", "\n".join([HEADER, ROW, ASB, ASB]) + "\n")
    packed = write_file("2017-05-street.csv.gz", gzip.compress(("\n".join([HEADER, ROW, ASB, ASB]) + "\n").encode()))
    result = police_street_import(actor=None, paths=[plain])
    assert (result.rows, result.added, result.months) == (3, 3, ["2017-05"])
    again = police_street_import(actor=None, paths=[packed, plain])
    assert (again.added, again.already_present) == (0, 6)
    assert PoliceStreetCrime.objects.count() == before + 3


def _refused(paths) -> list[str]:
    before = PoliceStreetCrime.objects.count()
    with pytest.raises(PlacesImportRejected) as refused:
        police_street_import(actor=None, paths=paths)
    assert PoliceStreetCrime.objects.count() == before
    return [str(problem) for problem in refused.value.problems]


def test_a_file_with_a_missing_column_is_refused_and_nothing_is_kept(db, write_file):
    good = write_file("good.csv", "\n".join([HEADER, ROW]) + "\n")
    header = HEADER.replace(",Crime type", "")
    row = ROW.replace(",Other theft", "")
    bad = write_file("missing.csv", "\n".join([header, row]) + "\n")
    problems = _refused([good, bad])
    assert problems == [f"{bad}: line 1, column Crime type: the column is missing"]


def test_a_file_with_a_bad_month_is_refused_with_line_and_column(db, write_file):
    odd = write_file("odd.csv", "\n".join([HEADER, ROW, ROW.replace("2017-05", "2017-06"), ASB]) + "\n")
    assert _refused([odd]) == [
        f"{odd}: line 3, column Month: 2017-06 differs from 2017-05 on line 2; a file holds one month"
    ]
    bad = write_file("bad.csv", "\n".join([HEADER, ROW, ASB.replace("2017-05", "May 2019")]) + "\n")
    assert _refused([bad]) == [f"{bad}: line 3, column Month: 'May 2019' is not a month written YYYY-MM"]


def test_bad_coordinates_and_unknown_columns_are_refused(db, write_file):
    coordinates = write_file(
        "c.csv", "\n".join([HEADER, ROW.replace("51.518207", "north"), ASB.replace("-0.114954", "")]) + "\n"
    )
    assert _refused([coordinates]) == [
        f"{coordinates}: line 2, column Latitude: 'north' is not a latitude (a number from -90 to 90, or blank)",
        f"{coordinates}: line 3, column Longitude: blank while the other coordinate is given",
    ]
    extra = write_file("x.csv", "\n".join([HEADER + ",Notes", ROW + ",x"]) + "\n")
    assert _refused([extra])[0].startswith(f"{extra}: line 1, column Notes: unknown column")
    short = write_file("s.csv", "\n".join([HEADER, ",".join(ROW.split(",")[:3])]) + "\n")
    assert _refused([short]) == [f"{short}: line 2: the row has 3 values; the header has 12"]
    assert _refused([write_file("b.csv.gz", b"\x1f\x8bnot gzip")])[0].endswith("it is not a readable gzip file")


def test_only_partnership_administrators_may_import(db, write_file, partnership_admin, agency_admin):
    path = write_file("2017-05-street.csv", "\n".join([HEADER, ROW]) + "\n")
    with pytest.raises(PermissionDenied):
        police_street_import(actor=agency_admin, paths=[path])
    assert police_street_import(actor=partnership_admin, paths=[path]).added == 1
    event = AuditEvent.objects.filter(object_type="police_street").latest("at")
    assert event.user == partnership_admin and event.action == AuditEvent.Action.IMPORT


def test_the_command_reports_in_plain_words_and_fails_on_bad_input(db, write_file, capsys):
    before = PoliceStreetCrime.objects.count()
    good = write_file("2017-05-street.csv", "\n".join([HEADER, ROW, ASB]) + "\n")
    call_command("import_police_street", str(good))
    out = capsys.readouterr().out
    assert "2 rows: 2 added, 0 already present" in out and "the month 2017-05" in out

    bad = write_file("bad.csv", "\n".join([HEADER, ROW.replace("2017-05", "2017-13")]) + "\n")
    with pytest.raises(CommandError) as failed:
        call_command("import_police_street", str(good), str(bad))
    assert failed.value.returncode == 1
    err = capsys.readouterr().err
    assert f"{bad}: line 2, column Month: '2017-13' is not a month written YYYY-MM" in err
    assert "Nothing was imported" in err and "Traceback" not in err
    assert PoliceStreetCrime.objects.count() == before + 2


def test_the_command_line_gives_the_published_limits_for_the_street_crime_measure(db, capsys):
    """End to end as a partnership would: import the bundled files with the command, define the measure
    from its series, and ask `onecase measure xmr police_street_all --baseline 2018-01:2019-12 --json`."""
    import json

    from onecase.measures.services import measure_create

    call_command("import_police_street", *map(str, police_street_files()))
    measure_create(actor=None, slug="police_street_all", name="Street crime, every type", tier=3, source="police",
                   series_name="police_street_all", description="Every row of the street-level crime files.")
    capsys.readouterr()
    call_command("measure", "xmr", "police_street_all", "--baseline", "2018-01:2019-12", "--json")
    data = json.loads(capsys.readouterr().out)
    assert (round(data["mean"], 2), round(data["unpl"], 2), round(data["lnpl"], 2)) == (774.08, 973.01, 575.16)
    below = [p["period"] for p in data["points"] if p["value"] < data["lnpl"]]
    assert below[0] == "2020-04"
    april = next(p for p in data["points"] if p["period"] == "2020-04")
    assert "outside_limits" in april["signals"]
    assert not any("outside_limits" in p["signals"] for p in data["points"] if p["period"] < "2020-04")
