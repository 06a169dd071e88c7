"""The demo partnership generator (`onecase demo_data`) and the demo accounts (`onecase demo_login`)."""

import csv
import io
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import pytest
from django.core.management import call_command

from onecase.accounts.models import Agency, Role, User
from onecase.cases.impact import add_months, local_date
from onecase.cases.models import Case, Status
from onecase.contacts.models import Contact
from onecase.demo.generator import (
    AGENCIES,
    DEFAULT_END_DATE,
    NEED_CATEGORIES,
    NEED_PHRASES,
    generate,
    window_for,
    write,
)
from onecase.demo.management.commands.demo_login import ACCOUNTS
from onecase.imports.contact_format import CONTEXT, IDENTITY, REQUIRED
from onecase.people.models import AgencyPerson

PEOPLE = 300
POSTCODE = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}$")


def read_csv(path):
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """One small demo city written to disk (no database needed)."""
    out = tmp_path_factory.mktemp("demo")
    call_command("demo_data", people=PEOPLE, end_date=DEFAULT_END_DATE, out=out, no_load=True, no_progress=True, stdout=io.StringIO())
    return out


@pytest.fixture(scope="module")
def files(demo_dir):
    rows = {spec.code: read_csv(demo_dir / f"{spec.code}.csv") for spec in AGENCIES}
    truth = read_csv(demo_dir / "truth.csv")
    contacts = read_csv(demo_dir / "truth_contacts.csv")
    families = json.loads((demo_dir / "truth_families.json").read_text(encoding="utf-8"))["families"]
    return rows, truth, contacts, {f["key"]: f for f in families}


def identities(rows, truth):
    """{true person: {agency: set of (given, family, dob)}} from the agency files and the truth."""
    person_of = {(t["agency"], t["person_ref"]): t["true_person_id"] for t in truth}
    seen = defaultdict(lambda: defaultdict(set))
    for code, agency_rows in rows.items():
        for row in agency_rows:
            person = person_of[(code, row["person_ref"])]
            seen[person][code].add((row["given_name"], row["family_name"], row["date_of_birth"]))
    return seen


# --- determinism and format ---------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tmp_path, demo_dir):
    call_command("demo_data", people=PEOPLE, end_date=DEFAULT_END_DATE, out=tmp_path, no_load=True, no_progress=True, stdout=io.StringIO())
    names = sorted(p.name for p in demo_dir.iterdir())
    assert names == sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 12 + 4
    for name in names:
        assert (tmp_path / name).read_bytes() == (demo_dir / name).read_bytes(), name


def test_another_seed_gives_another_city(tmp_path, demo_dir):
    call_command("demo_data", people=PEOPLE, end_date=DEFAULT_END_DATE, seed=7, out=tmp_path, no_load=True, no_progress=True,
                 stdout=io.StringIO())
    assert (tmp_path / "POLICE.csv").read_bytes() != (demo_dir / "POLICE.csv").read_bytes()


def test_files_use_the_canonical_contact_format(files):
    rows, truth, contacts, _ = files
    header = [*REQUIRED, *IDENTITY, *CONTEXT]
    window = window_for(date(2026, 9, 30))
    for spec in AGENCIES:
        assert rows[spec.code], f"{spec.code} has no contacts"
        assert list(rows[spec.code][0]) == header
        for row in rows[spec.code]:
            when = datetime.fromisoformat(row["occurred_at"]).date()
            assert window.start <= when <= window.end
            if row["date_of_birth"]:
                assert date.fromisoformat(row["date_of_birth"]) <= window.start
    # UPRNs only where the agency supplies them; NHS numbers only at health agencies.
    for code, agency_rows in rows.items():
        has_uprn = any(r["uprn"] for r in agency_rows)
        has_nhs = any(r["nhs_number"] for r in agency_rows)
        assert has_uprn == (code in {"HOUSING", "REVBEN", "FIRE"}), code
        assert has_nhs == (code in {"AMBULANCE", "ED"}), code
    assert sum(len(r) for r in rows.values()) == len(contacts)


def test_contact_types_are_the_agencies_own(files):
    rows, *_ = files
    types = {code: {r["contact_type"] for r in agency_rows} for code, agency_rows in rows.items()}
    assert types["POLICE"] >= {"incident", "asb_report", "domestic_abuse_incident", "arrest", "missing_person"}
    assert types["FOODBANK"] == {"parcel"}
    assert types["EWS"] == {"attendance_concern"}
    assert types["HOUSING"] >= {"rent_arrears_contact", "repair_request", "asb_complaint"}


def test_default_window_is_the_24_months_ending_september_2026():
    window = window_for(date(2026, 9, 30))
    assert (window.start, window.end) == (date(2024, 10, 1), date(2026, 9, 30))
    assert window_for(date(2025, 2, 28)).start == date(2023, 3, 1)


# --- loading --------------------------------------------------------------------------------


def test_the_files_import_and_reimporting_changes_nothing(db, tmp_path):
    out = io.StringIO()
    call_command("demo_data", people=PEOPLE, end_date=DEFAULT_END_DATE, out=tmp_path, no_progress=True, stdout=out)
    rows = {spec.code: read_csv(tmp_path / f"{spec.code}.csv") for spec in AGENCIES}
    truth = read_csv(tmp_path / "truth.csv")
    total = sum(len(r) for r in rows.values())

    assert Agency.objects.count() == 12
    sectors = dict(Agency.objects.values_list("code", "sector"))
    assert sectors["POLICE"] == "police" and sectors["FOODBANK"] == "voluntary" and sectors["ED"] == "health"
    assert Agency.objects.get(code="CAB").name == "Citizens Advice Kilnbury"
    assert Contact.objects.count() == total
    assert AgencyPerson.objects.count() == len(truth)
    for code, agency_rows in rows.items():
        assert Contact.objects.filter(agency__code=code).count() == len(agency_rows)
    assert f"Loaded 12 agencies: {total:,} rows ({total:,} new, 0 updated, 0 unchanged)" in out.getvalue()

    cases = historical_cases_hold(tmp_path)
    assert f"Historical cases: {len(cases)} imported from the old system ({len(cases)} new, 0 unchanged)" \
        in out.getvalue()

    again = io.StringIO()
    call_command("demo_data", people=PEOPLE, end_date=DEFAULT_END_DATE, out=tmp_path, no_progress=True, stdout=again)
    assert f"(0 new, 0 updated, {total:,} unchanged)" in again.getvalue()
    assert Contact.objects.count() == total
    assert f"({len(cases)} new" not in again.getvalue() and f"(0 new, {len(cases)} unchanged)" in again.getvalue()
    assert Case.objects.count() == len(cases)


def historical_cases_hold(out_dir) -> list:
    """The demo's historical cases: 5 to 8, closed, imported, held by demo staff, on the planted
    revolving-door households (or their people), some with a complete after window and some closed recently."""
    cases = list(Case.objects.select_related("key_worker"))
    assert 5 <= len(cases) <= 8
    assert all(c.imported_ref and c.status == Status.CLOSED and c.outcomes_not_recorded for c in cases)
    assert {c.key_worker.username for c in cases} <= {name for name, *_ in ACCOUNTS}
    truth = read_csv(out_dir / "truth.csv")
    families = json.loads((out_dir / "truth_families.json").read_text(encoding="utf-8"))["families"]
    revolving = {m["true_person_id"] for f in families if f["kind"] == "revolving_door" for m in f["members"]}
    for case in cases:
        subject = {"household_id": case.household_id} if case.household_id else {"person_id": case.person_id}
        refs = set(Contact.objects.filter(**subject).values_list("agency__code", "agency_person__person_ref"))
        true_people = {t["true_person_id"] for t in truth if (t["agency"], t["person_ref"]) in refs}
        assert true_people & revolving, case.imported_ref
    end = DEFAULT_END_DATE
    complete = [c for c in cases if add_months(local_date(c.closed_at), 12) <= date.today()]
    recent = [c for c in cases if (end - local_date(c.closed_at)).days < 183]
    assert complete and recent
    assert all(local_date(c.opened_at) < local_date(c.closed_at) <= end for c in cases)
    return cases


# --- the planted families ---------------------------------------------------------------


def test_the_family_of_five_is_known_to_8_agencies_each_and_has_the_most_contacts(files):
    rows, truth, contacts, families = files
    smith = families["smith"]
    assert smith["kind"] == "revolving_door"
    members = [m["true_person_id"] for m in smith["members"]]
    assert len(members) == 5
    assert {m["name"].split()[-1] for m in smith["members"]} == {"Smith"}

    agencies_per_member = defaultdict(set)
    addresses = set()
    for t in truth:
        if t["true_person_id"] in members:
            agencies_per_member[t["true_person_id"]].add(t["agency"])
            addresses.add(t["true_address_id"])
            assert t["true_household_id"] == smith["true_household_id"]
    assert all(len(agencies_per_member[m]) >= 8 for m in members), agencies_per_member
    assert len(addresses) == 1

    per_household = Counter(c["true_household_id"] for c in contacts)
    (top, most), (_, second) = per_household.most_common(2)
    assert top == smith["true_household_id"]
    assert most >= 300 and most >= 2 * second
    assert smith["contacts"] == most
    mine = Counter(c["agency"] for c in contacts if c["true_household_id"] == top)
    assert smith["contacts_by_agency"] == dict(mine)
    assert len(mine) >= 10


def test_the_family_of_five_is_recorded_under_variants(files):
    rows, truth, _, families = files
    jonathan = families["smith"]["members"][0]
    assert (jonathan["name"], jonathan["date_of_birth"]) == ("Jonathan Smith", "1984-03-07")
    seen = identities(rows, truth)[jonathan["true_person_id"]]
    assert ("Jonathan", "Smyth", "1984-03-07") in seen["HOUSING"]
    assert ("Jon", "SMITH", "") in seen["FOODBANK"]
    assert any(dob == "1984-07-03" for _, _, dob in seen["AMBULANCE"])  # day and month swapped
    names = {(g, f) for records in seen.values() for g, f, _ in records}
    assert len(names) >= 4
    police_refs = {t["person_ref"] for t in truth if t["true_person_id"] == jonathan["true_person_id"]
                   and t["agency"] == "POLICE"}
    assert len(police_refs) == 2  # known twice to the police


def test_other_planted_households(files):
    rows, truth, contacts, families = files
    assert sum(1 for f in families.values() if f["kind"] == "revolving_door") >= 3
    window = window_for(date(2026, 9, 30))
    when = {(code, r["record_id"]): r for code, agency_rows in rows.items() for r in agency_rows}

    # Needs an owner: repeat demand (2+ contacts) at 3+ agencies in the last 90 days.
    owner = next(f for f in families.values() if f["kind"] == "needs_owner")
    recent = Counter()
    for c in contacts:
        if c["true_household_id"] == owner["true_household_id"]:
            row = when[(c["agency"], c["record_id"])]
            if datetime.fromisoformat(row["occurred_at"]).date() > window.end - timedelta(days=90):
                recent[c["agency"]] += 1
    assert sum(1 for n in recent.values() if n >= 2) >= 3

    # ASB: three police ASB reports within 30 days.
    asb = next(f for f in families.values() if f["kind"] == "asb_repeat")
    reports = sorted(
        datetime.fromisoformat(when[("POLICE", c["record_id"])]["occurred_at"])
        for c in contacts
        if c["true_household_id"] == asb["true_household_id"] and c["agency"] == "POLICE"
        and when[("POLICE", c["record_id"])]["contact_type"] == "asb_report"
    )
    assert len(reports) >= 3
    assert any(b - a <= timedelta(days=30) for a, b in zip(reports, reports[2:], strict=False))


# --- noise ------------------------------------------------------------------------------


def test_identities_are_noisy_across_agencies(files):
    rows, truth, _, _ = files
    seen = identities(rows, truth)
    multi = {p: a for p, a in seen.items() if len(a) >= 2}
    assert len(multi) >= 50

    def differs(person, index):
        values = {record[index] for records in multi[person].values() for record in records if record[index]}
        return len(values) > 1

    assert sum(differs(p, 0) for p in multi) >= 0.1 * len(multi)  # given names: nicknames, typos
    assert sum(differs(p, 1) for p in multi) >= 0.1 * len(multi)  # family names: variants, capitals
    assert sum(differs(p, 2) for p in multi) >= 10  # dates of birth: swapped, a year out

    def missing_dob(code):
        return sum(1 for r in rows[code] if not r["date_of_birth"]) / len(rows[code])

    assert missing_dob("FOODBANK") > 0.2 and missing_dob("CAB") > 0.1
    assert missing_dob("ED") < 0.05 and missing_dob("PROBATION") < 0.05


def test_postcodes_are_well_formed_but_written_differently(files, demo_dir):
    rows, *_ = files
    written = [r["postcode"] for agency_rows in rows.values() for r in agency_rows]
    canonical = [p for p in written if POSTCODE.match(p)]
    assert len(canonical) > 0.6 * len(written)
    normalised = {" ".join(p.upper().split()) for p in written}
    fixed = {p[:-3] + " " + p[-3:] if " " not in p else p for p in normalised}
    assert all(POSTCODE.match(p) for p in fixed)
    assert any(p.islower() for p in written)
    assert any(" " not in p for p in written)
    assert any("  " in p for p in written)
    assert all(p.startswith(("ST", "st")) for p in written)
    # Addresses written in more than one way: abbreviations, capitals, flat forms.
    lines = {r["address_line"] for agency_rows in rows.values() for r in agency_rows}
    assert any(re.search(r" (St|Rd|Ave)$", line) for line in lines)
    assert any(line.isupper() for line in lines)
    assert any(re.match(r"^\d+/\d+ ", line) for line in lines)
    assert any(line.startswith("Flat ") for line in lines)


def test_the_same_person_is_sometimes_known_twice_to_one_agency(files):
    _, truth, _, _ = files
    refs = defaultdict(set)
    for t in truth:
        refs[(t["agency"], t["true_person_id"])].add(t["person_ref"])
    duplicated = [key for key, found in refs.items() if len(found) > 1]
    assert 0.01 * len(refs) <= len(duplicated) <= 0.12 * len(refs)
    assert len({agency for agency, _ in duplicated}) >= 4


def test_person_refs_follow_each_agencys_scheme(files):
    _, truth, _, _ = files
    schemes = {
        "POLICE": r"P\d{7}", "HOUSING": r"HT-\d{6}-\d{2}", "FOODBANK": r"FB\d{5}", "CAB": r"CA-\d{6}",
        "PROBATION": r"D\d{6}", "ED": r"RK\d{7}",
    }
    for t in truth:
        if t["agency"] in schemes:
            assert re.fullmatch(schemes[t["agency"]], t["person_ref"]), t


# --- demand -----------------------------------------------------------------------------


def test_presenting_needs_map_to_categories_and_finding_a_job_leads(files, demo_dir):
    rows, _, contacts, _ = files
    category = {(c["agency"], c["record_id"]): c["need_category"] for c in contacts}
    phrases = Counter()
    for code, agency_rows in rows.items():
        for row in agency_rows:
            need = category[(code, row["record_id"])]
            assert need in NEED_CATEGORIES
            if row["presenting_need"]:
                assert NEED_PHRASES[row["presenting_need"]] == need
                phrases[row["presenting_need"]] += 1
    assert phrases.most_common(1)[0][0] == "help me find a job"
    exported = {r["presenting_need"]: r["need_category"] for r in read_csv(demo_dir / "truth_needs.csv")}
    assert exported == NEED_PHRASES


def test_most_people_have_few_or_no_contacts_and_most_want_a_job():
    demo = generate(people=1000)
    phrases = Counter(row[12] for rows in demo.rows.values() for row in rows if row[12])
    (first, top), (_, runner_up) = phrases.most_common(2)
    assert first == "help me find a job" and top >= 1.2 * runner_up
    per_person = Counter(c[2] for c in demo.truth_contacts)
    few = sum(1 for p in demo.people if per_person.get(f"TP{p.id:06d}", 0) <= 2)
    assert few > 0.5 * len(demo.people)
    assert 4 * len(demo.people) <= demo.contacts <= 10 * len(demo.people)
    sizes = Counter(len(h.members) for h in demo.households)
    assert sizes[1] > 0.2 * len(demo.households) and sum(n for s, n in sizes.items() if s >= 4) > 0
    assert demo.movers > 0
    assert all(POSTCODE.match(a.postcode) for a in demo.addresses)


def test_write_puts_the_truth_where_asked(tmp_path):
    demo = generate(people=60)
    written = write(demo, tmp_path / "out", tmp_path / "elsewhere" / "truth.csv")
    assert written.truth == tmp_path / "elsewhere" / "truth.csv" and written.truth.exists()
    assert not (tmp_path / "out" / "truth.csv").exists()
    assert (tmp_path / "out" / "truth_contacts.csv").exists()


# --- demo_login ---------------------------------------------------------------------------


@pytest.fixture
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_demo_login_creates_one_account_per_role(db, monkeypatch, fast_hashing):
    monkeypatch.delenv("ONECASE_DEMO_PASSWORD", raising=False)
    out = io.StringIO()
    call_command("demo_login", stdout=out)
    users = {u.username: u for u in User.objects.select_related("agency")}
    assert {u.role for u in users.values()} == set(Role.values)
    assert len(users) == 9 + len(AGENCIES)  # one per role, and a DPO for each agency
    assert users["demo-admin"].agency.code == "PARTNERSHIP" and users["demo-admin"].agency.sector == "other"
    assert users["demo-admin"].is_staff and users["demo-admin"].is_superuser
    assert not any(u.is_superuser for name, u in users.items() if name != "demo-admin")
    assert (users["demo-keyworker"].role, users["demo-keyworker"].agency.code) == (Role.KEY_WORKER, "CSC")
    assert users["demo-police-admin"].agency.code == "POLICE"
    assert users["demo-foodbank"].agency.sector == "voluntary"
    assert all(u.check_password("onecase-demo-only") for u in users.values())
    text = out.getvalue()
    assert "onecase-demo-only" in text and "local demo use only" in text
    assert all(name in text for name in users)


def test_demo_login_resets_existing_accounts(db, monkeypatch, fast_hashing):
    call_command("demo_login", stdout=io.StringIO())
    admin = User.objects.get(username="demo-admin")
    admin.set_password("something else entirely")
    admin.is_active = False
    admin.save()
    monkeypatch.setenv("ONECASE_DEMO_PASSWORD", "a different demo password")
    out = io.StringIO()
    call_command("demo_login", stdout=out)
    assert User.objects.count() == 9 + len(AGENCIES)
    admin.refresh_from_db()
    assert admin.is_active and admin.check_password("a different demo password")
    assert "(reset)" in out.getvalue() and "a different demo password" not in out.getvalue()


def test_demo_accounts_break_the_glass_by_the_statutory_defaults(db, monkeypatch, fast_hashing):
    from onecase.sharing.rules import may_break_glass

    monkeypatch.delenv("ONECASE_DEMO_PASSWORD", raising=False)
    call_command("demo_login", stdout=io.StringIO())
    may = {u.username for u in User.objects.all() if may_break_glass(u)}
    assert may == {"demo-keyworker", "demo-housing"}
