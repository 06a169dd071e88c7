"""The English Indices of Deprivation 2019 bundled with the product: importing it, and splitting
street crime by deprivation decile."""

from __future__ import annotations

import gzip

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import transaction

from onecase.audit.models import AuditEvent
from onecase.places import data_files, deprivation_file, police_street_files
from onecase.places.models import LsoaDeprivation, PoliceStreetCrime
from onecase.places.police_format import PlacesImportRejected
from onecase.places.series import deprivation_deciles, police_series
from onecase.places.services import deprivation_import, load_bundled, police_street_import

HEADER = (
    "\ufeffLSOA code (2011),LSOA name (2011),Local Authority District code (2019),"
    "Local Authority District name (2019),Index of Multiple Deprivation (IMD) Rank,"
    "Index of Multiple Deprivation (IMD) Decile"
)


@pytest.fixture(scope="module")
def bundled(django_db_setup, django_db_blocker):
    """The deprivation file and every street-crime file, imported once for the module and rolled back after."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield (
                deprivation_import(actor=None, path=deprivation_file()),
                police_street_import(actor=None, paths=police_street_files()),
            )
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def test_every_lsoa_in_england_is_imported_with_its_rank_and_decile(bundled, db):
    deprivation, _ = bundled
    with gzip.open(deprivation_file(), "rt", encoding="utf-8-sig", newline="") as handle:
        lines = sum(1 for line in handle if line.strip()) - 1
    assert deprivation.rows == deprivation.added == LsoaDeprivation.objects.count() == lines == 32844
    area = LsoaDeprivation.objects.get(code="E01000001")
    # As published: E01000001,City of London 001A,E09000001,City of London,"29,199",9
    assert (area.name, area.local_authority_name, area.imd_rank, area.imd_decile) == (
        "City of London 001A",
        "City of London",
        29199,
        9,
    )
    deciles = deprivation_deciles()
    assert deciles["E01000001"] == 9
    assert set(deciles.values()) == set(range(1, 11))
    assert AuditEvent.objects.filter(object_type="deprivation", action=AuditEvent.Action.IMPORT).exists()


def test_importing_it_again_changes_nothing(bundled, db):
    again = deprivation_import(actor=None, path=deprivation_file())
    assert (again.added, again.updated, again.unchanged) == (0, 0, 32844)
    assert LsoaDeprivation.objects.count() == 32844


def test_the_decile_split_of_a_series_adds_up_to_the_rows_in_known_areas(bundled, db):
    deciles = deprivation_deciles()
    for name in ("police_street_all", "police_street_anti_social_behaviour"):
        by_decile = [police_series(name, decile=d) for d in range(1, 11)]
        assert all(len(series) == 45 for series in by_decile)
        split = sum(value for series in by_decile for _, value in series)
        rows = PoliceStreetCrime.objects.exclude(lsoa_code="")
        if name != "police_street_all":
            rows = rows.filter(crime_type="Anti-social behaviour")
        in_known_areas = sum(1 for code in rows.values_list("lsoa_code", flat=True) if code in deciles)
        assert split == in_known_areas > 0
        assert split < sum(value for _, value in police_series(name))  # rows without an LSOA are not in any decile
    with pytest.raises(ValueError):
        police_series("police_street_all", decile=11)


def test_a_changed_rank_is_updated_and_a_bad_file_keeps_nothing(db, write_file):
    first = write_file("imd.csv", "\n".join([HEADER, 'E01090001,Test 001A,E09000001,City of London,"29,199",9']) + "\n")
    assert deprivation_import(actor=None, path=first).added == 1
    changed = write_file("imd2.csv", "\n".join([HEADER, "E01090001,Test 001A,E09000001,City of London,29198,9"]) + "\n")
    assert deprivation_import(actor=None, path=changed).updated == 1
    assert LsoaDeprivation.objects.get(code="E01090001").imd_rank == 29198

    bad = write_file(
        "bad.csv",
        "\n".join(
            [
                HEADER,
                'E01090002,Test 001B,E09000001,City of London,"30,379",10',
                'E01090003,Test 001C,E09000001,City of London,"14,915",11',
                'E01090005,Test 001E,E09000001,City of London,"many",3',
            ]
        )
        + "\n",
    )
    with pytest.raises(PlacesImportRejected) as refused:
        deprivation_import(actor=None, path=bad)
    assert [str(p) for p in refused.value.problems] == [
        f"{bad}: line 3, column Index of Multiple Deprivation (IMD) Decile: '11' is not a decile "
        "(a whole number from 1 to 10)",
        f"{bad}: line 4, column Index of Multiple Deprivation (IMD) Rank: 'many' is not a rank (a whole number from 1)",
    ]
    assert not LsoaDeprivation.objects.filter(code__in=["E01090002", "E01090003", "E01090005"]).exists()


def test_only_partnership_administrators_may_import(db, write_file, agency_admin):
    path = write_file("imd.csv", "\n".join([HEADER, "E01090001,Test 001A,E09000001,City of London,1,1"]))
    with pytest.raises(PermissionDenied):
        deprivation_import(actor=agency_admin, path=path)
    assert not LsoaDeprivation.objects.filter(code="E01090001").exists()


def test_the_command_reports_and_fails_on_a_missing_column(db, write_file, capsys):
    good = write_file("imd.csv", "\n".join([HEADER, "E01090001,Test 001A,E09000001,City of London,1,1"]))
    call_command("import_deprivation", str(good))
    assert "1 small areas (LSOAs): 1 added" in capsys.readouterr().out
    bad = write_file("bad.csv", "\n".join([HEADER.rsplit(",", 1)[0], "E01090002,Test 001B,E09000001,x,1"]))
    with pytest.raises(CommandError) as failed:
        call_command("import_deprivation", str(bad))
    assert failed.value.returncode == 1
    assert (
        f"{bad}: line 1, column Index of Multiple Deprivation (IMD) Decile: the column is missing"
        in capsys.readouterr().err
    )
    assert not LsoaDeprivation.objects.filter(code="E01090002").exists()


def test_the_bundled_files_load_in_one_call(db):
    files = data_files()
    assert len(files["police_street"]) == 45 and files["deprivation"] == [deprivation_file()]
    said = load_bundled(actor=None)
    assert "45 months of street crime (28,761 rows" in said and "32,844 small areas" in said
    assert PoliceStreetCrime.objects.count() == 28761
    assert LsoaDeprivation.objects.filter(code="E01000001", imd_decile=9).exists()
