"""Finding a person by name, date of birth, postcode, NHS number or an agency's own reference.

What was typed becomes a record, compared with agency records as a link run compares two: the
same normalising (``normalise``: titles, accents, nickname groups, canonical postcodes and NHS
numbers) and the model's own comparison levels (``model``: one typing error, a nickname or short
form, given and family names swapped, day and month swapped...). Candidates come from indexed
search keys (``SearchKey``), as a link run blocks before it compares: a given name's nickname
groups with the family name's initial, the family name with the given name's initial, the family
name alone (a one-word search), the date of birth, postcode, NHS number and reference. Agency
people added or changed since their keys were made (``SearchPending``, filled by database
triggers) are read and keyed on every search until ``search_index_refresh`` catches up, so a
search never misses a record and never writes.

Each comparison the search asks about falls in one level, weighed by the model's expert priors:
the trained weights describe pairs inside blocks, where family members share a postcode, not what
was typed against a record. A level that counts against a match rules the record out; a record
missing the field neither matches nor rules it out. The match score is the weight found over the
weight exact agreement on every field asked about would give: 1 is an exact match. People are
ranked by their best record.

Only records that identify a person to the searcher are searched (``identifying_links``, ADR 13):
a search answers from what the searcher may know, and says nothing of anyone else.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

import duckdb
import pyarrow as pa
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone

from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record, disclosures_record
from onecase.linkage import dbio, evidence, model, normalise
from onecase.linkage.engine import untrained_parameters
from onecase.linkage.models import SearchKey, SearchPending
from onecase.linkage.names import TITLES
from onecase.linkage.rules import may_search_people
from onecase.people.models import AgencyPerson, Household, Person
from onecase.sharing.models import BreakGlass, DataCategory, DisclosureRequest
from onecase.sharing.purposes import EVERYDAY, work_purposes
from onecase.sharing.rules import disclosure_for
from onecase.sharing.selectors import (
    identifying_links,
    identity_remembered,
    involved_agencies,
    known_households,
    person_names,
)

logger = logging.getLogger(__name__)

FIELDS = ("name", "date_of_birth", "postcode", "nhs_number", "reference")
# Why someone searches: recorded with every search, in these words (never anything typed).
PURPOSES = {
    "contact": "Someone has contacted us",
    "concern": "Recording a concern",
    "referral": "Making or answering a referral",
    "safeguarding": "Safeguarding a child or adult at risk",
    "case": "Work on a case",
}
DEFAULT_PURPOSE = "contact"
RESULTS = 25
MAX_RESULTS = 100
CANDIDATES = 1000  # records compared at most, those sharing most keys first
NO_TERMS = "Enter a name, date of birth, postcode, NHS number or agency reference"
KEY_LENGTH = 64
STATISTICS_AFTER = 1000  # agency people keyed in one refresh: a bulk change, worth new planner statistics

# The comparisons each field asks about, and the level of each that is full agreement with what was typed.
COMPARED = {"name": ("given_name", "family_name"), "date_of_birth": ("date_of_birth",), "postcode": ("address",),
            "nhs_number": ("nhs_number",)}
FULL_LEVEL = {"given_name": "same", "family_name": "same", "date_of_birth": "same", "address": "same postcode",
              "nhs_number": "same"}
SAYS = {"given_name": "Given name", "family_name": "Family name", "date_of_birth": "Date of birth",
        "address": "Postcode", "nhs_number": "NHS number", "reference": "Agency reference"}
LEVEL_WORDS = {"same postcode": "same"}

RAW_FIELDS = ("id", "agency_id", "given_name", "family_name", "date_of_birth", "postcode", "nhs_number", "person_ref")
_RAW_TYPES = (pa.int64(), pa.int64(), pa.string(), pa.string(), pa.date32(), pa.string(), pa.string(), pa.string())
UK_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$")


class SearchInvalid(ValueError):
    """What was typed cannot be searched for: ``problems`` is {field: message}, "" for the search as a whole."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(problems.values()))
        self.problems = problems


@dataclass(frozen=True)
class SearchTerms:
    name: str = ""
    date_of_birth: dt.date | None = None
    postcode: str = ""
    nhs_number: str = ""
    reference: str = ""

    def fields(self) -> list[str]:
        """The fields searched on, by name: what the audit trail records, never the values."""
        return [f for f in FIELDS if getattr(self, f)]


@dataclass
class PersonMatch:
    """One person found, from their best-matching record that identifies them to the searcher."""

    person_id: int
    score: float
    date_of_birth: dt.date | None = None
    matched_on: list[str] = field(default_factory=list)


@dataclass
class PersonResult:
    """A person found, as the searcher may see them (ADR 13)."""

    person_id: int
    name: str
    score: float
    date_of_birth: dt.date | None
    household_id: int | None
    address: str
    agencies: list[str]
    matched_on: list[str]


def search_terms(*, name: str = "", date_of_birth: dt.date | None = None, postcode: str = "", nhs_number: str = "",
                 reference: str = "") -> SearchTerms:
    """What was typed, checked: raises ``SearchInvalid`` naming each field that cannot be searched for."""
    problems: dict[str, str] = {}
    name = " ".join((name or "").split())
    if name and sum(c.isalpha() for c in name) < 2:
        problems["name"] = "Enter at least 2 letters of the name"
    elif len(name) > 200:
        problems["name"] = "Name must be 200 characters or fewer"
    if date_of_birth is not None:
        if date_of_birth > timezone.localdate():
            problems["date_of_birth"] = "Date of birth must be today or in the past"
        elif date_of_birth.year < 1900:
            problems["date_of_birth"] = "Date of birth must be in or after 1900"
    postcode = " ".join((postcode or "").split())
    if postcode:
        canonical = normalise.canonical_postcode(postcode[:16]) or ""
        if not UK_POSTCODE.match(canonical):
            problems["postcode"] = "Enter a full postcode, like ST1 4HH"
        postcode = canonical
    nhs_number = re.sub(r"[\s-]", "", nhs_number or "")
    if nhs_number and not re.fullmatch(r"[0-9]{10}", nhs_number):
        problems["nhs_number"] = "Enter the NHS number as 10 digits, like 485 777 3456"
    reference = (reference or "").strip()
    if len(reference) > 100:
        problems["reference"] = "Agency reference must be 100 characters or fewer"
    terms = SearchTerms(name=name, date_of_birth=date_of_birth, postcode=postcode, nhs_number=nhs_number,
                        reference=reference)
    if not problems and not terms.fields():
        problems[""] = NO_TERMS
    if problems:
        raise SearchInvalid(problems)
    return terms


def _readings(name: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(given, family) as a typed name may be meant: (the readings compared, the swapped ones only blocked on).

    "Smith, John" is family name first; "Mary Ann Smith" is Mary (Ann) Smith or Mary Ann-Smith; a
    single word is a family name. Swapped readings only find candidates: the model's own level for
    names swapped between records judges them.
    """
    if not name:
        return [], []
    if "," in name:
        family, _, given = name.partition(",")
        readings = [(given.strip(), family.strip())]
    else:
        words = name.split()
        while len(words) > 1 and words[0].lower().strip(".") in TITLES:
            words = words[1:]
        if len(words) == 1:
            return [("", words[0])], []
        readings = [(" ".join(words[:-1]), words[-1])]
        if len(words) > 2:
            readings.append((words[0], " ".join(words[1:])))
    swapped = [(family, given) for given, family in readings if given and family]
    return readings, swapped


# -- the linkage's normalising and comparisons, on a connection of this thread's own ------------------

_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    con = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect(":memory:")
        normalise.install(con)
        # Searches compare no address lines: an empty table of parsed lines.
        con.execute(f"CREATE TABLE {normalise.LINES} (line VARCHAR, flat VARCHAR, number VARCHAR, street VARCHAR)")
        _local.con = con
    return con


def _load(con: duckdb.DuckDBPyConnection, name: str, rows: list[tuple]) -> None:
    """Rows of ``RAW_FIELDS`` into table ``name``, and their linkage features into ``name``_features."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(RAW_FIELDS)
    table = pa.table({f: pa.array(list(c), t) for f, c, t in zip(RAW_FIELDS, columns, _RAW_TYPES, strict=True)})
    con.register(f"{name}_arrow", table)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {name} AS
            SELECT id, agency_id, given_name, family_name, date_of_birth, NULL::VARCHAR AS sex,
                   NULL::VARCHAR AS address_line, postcode, NULL::VARCHAR AS uprn, nhs_number,
                   NULL::VARCHAR AS identity_as_of, person_ref
            FROM {name}_arrow"""  # noqa: S608
    )
    con.unregister(f"{name}_arrow")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name}_features AS {normalise.features_sql(name)}")


def _keys_sql(name: str) -> str:
    """The search keys of the records in table ``name`` (loaded by ``_load``): (unique_id, key).

    The one definition of a key, for the index and for what is typed alike.
    """
    f = f"{name}_features"
    both = "given IS NOT NULL AND family IS NOT NULL"
    return f"""
    SELECT DISTINCT unique_id, left(key, {KEY_LENGTH}) AS key FROM (
        SELECT unique_id, 'g:' || unnest(given_groups) || '|' || left(family, 1) AS key FROM {f} WHERE {both}
        UNION ALL SELECT unique_id, 'f:' || family || '|' || left(given, 1) FROM {f} WHERE {both}
        UNION ALL SELECT unique_id, 's:' || family FROM {f} WHERE family IS NOT NULL
        UNION ALL SELECT unique_id, 'd:' || dob_s FROM {f} WHERE dob_s IS NOT NULL
        UNION ALL SELECT unique_id, 'p:' || postcode FROM {f} WHERE postcode IS NOT NULL
        UNION ALL SELECT unique_id, 'h:' || nhs FROM {f} WHERE nhs IS NOT NULL
        UNION ALL SELECT id, 'r:' || lower(trim(person_ref)) FROM {name} WHERE trim(coalesce(person_ref, '')) <> ''
    )"""  # noqa: S608


@cache
def _levels() -> tuple[str, dict[str, dict[int, tuple[str, float]]]]:
    """The model's comparison levels as SQL, and each level's label and prior weight by comparison and level."""
    parameters = untrained_parameters(1000)
    compiled = model.settings_from_parameters(parameters).get_settings("duckdb")
    cases = ", ".join(cc._case_statement for cc in compiled.comparisons)
    return cases, {name: levels for name, _, levels in evidence.describe(parameters)}


def _gammas(con: duckdb.DuckDBPyConnection, queries: str, records: str) -> list[tuple]:
    """(query id, record id, level of each comparison, in the model's order) for every pair."""
    cases, _ = _levels()
    sides = ", ".join(f"l.{c} AS {c}_l, r.{c} AS {c}_r" for c in model.SPLINK_COLUMNS if c != "unique_id")
    return con.execute(
        f"""SELECT unique_id_l, unique_id_r, {cases}
            FROM (SELECT l.unique_id AS unique_id_l, r.unique_id AS unique_id_r, {sides}
                  FROM {queries}_features l CROSS JOIN {records}_features r)"""  # noqa: S608
    ).fetchall()


def _judge(levels: dict[str, int], compared: list[str], reference: bool | None) -> tuple[float, list[str]] | None:
    """(score, what matched) of one record against one reading, or None when a level rules it out."""
    _, weights = _levels()
    found = full = 0.0
    matched = []
    for name in compared:
        by_label = {label: weight for label, weight in weights[name].values()}
        best = by_label[FULL_LEVEL[name]]
        full += best
        label, weight = weights[name].get(levels[name], ("", 0.0))
        if levels[name] < 0:
            continue  # the record does not say: neither a match nor against one
        if weight <= 0:
            return None
        found += min(weight, best)
        matched.append(f"{SAYS[name]}: {LEVEL_WORDS.get(label, label)}")
    if reference is not None:
        # An agency's own reference identifies one record, as surely as an NHS number.
        best = {label: weight for label, weight in weights["nhs_number"].values()}["same"]
        if not reference:
            return None
        full += best
        found += best
        matched.append(f"{SAYS['reference']}: same")
    if found <= 0:
        return None
    return min(found / full, 1.0), matched


def _query_rows(terms: SearchTerms) -> tuple[list[tuple], set[int]]:
    """What was typed as records (negative ids), and which of them are only blocked on (swapped names)."""
    readings, swapped = _readings(terms.name)
    blocked_only = set()
    rows = []
    for n, (given, family) in enumerate(readings or [("", "")], start=1):
        rows.append((-n, 0, given, family, terms.date_of_birth, terms.postcode, terms.nhs_number, terms.reference))
    for n, (given, family) in enumerate(swapped, start=len(rows) + 1):
        rows.append((-n, 0, given, family, None, None, None, None))
        blocked_only.add(-n)
    return rows, blocked_only


def _candidate_rows(user, keys: Iterable[str]) -> list[tuple]:
    """Records that identify a person to ``user`` and share a key, or whose keys are not made yet:
    (``RAW_FIELDS``..., person id)."""
    fields = ["agency_person_id", "agency_person__agency_id", "agency_person__given_name",
              "agency_person__family_name", "agency_person__date_of_birth", "agency_person__postcode",
              "agency_person__nhs_number", "agency_person__person_ref", "person_id"]
    keys = sorted(keys)
    links = identifying_links(user)
    keyed = SearchKey.objects.filter(key__in=keys)
    # Most keys shared first (the same family name and nickname group before the same initial alone), and
    # no more than CANDIDATES of them: a common family name alone must not compare the whole ledger.
    # Capped after the identity rule, so records the searcher may not see never push out ones they may.
    hits = keyed.filter(agency_person_id=OuterRef("agency_person_id")).order_by().values("agency_person_id") \
        .annotate(n=Count("pk")).values("n")
    found = {row[0]: row for row in links.filter(agency_person_id__in=keyed.values("agency_person_id"))
             .annotate(hits=Subquery(hits)).order_by("-hits", "agency_person_id").values_list(*fields)[:CANDIDATES]}
    # Records added or changed since their keys were made are all read, whatever they hold.
    for row in links.filter(agency_person_id__in=SearchPending.objects.values("agency_person_id")).values_list(*fields):
        found[row[0]] = row
    return [found[k] for k in sorted(found)]


def person_search(user, terms: SearchTerms, *, limit: int = RESULTS) -> list[PersonMatch]:
    """The people who best match ``terms`` among those ``user`` may identify, best first. Records nothing."""
    if not may_search_people(user):
        return []
    con = _connection()
    queries, blocked_only = _query_rows(terms)
    _load(con, "onecase_search_q", queries)
    query_keys = con.execute(_keys_sql("onecase_search_q")).fetchall()
    named = {uid for uid, given in con.execute("SELECT unique_id, given FROM onecase_search_q_features").fetchall()
             if given}
    # A family name alone is a key only when no given name was typed: "John Smith" is not every Smith.
    keys = {key for uid, key in query_keys if not (key.startswith("s:") and uid in named)}
    if not keys:
        return []
    candidates = _candidate_rows(user, keys)
    if not candidates:
        return []
    _load(con, "onecase_search_r", [row[:-1] for row in candidates])
    person_of = {row[0]: row[-1] for row in candidates}
    dob_of = {row[0]: row[4] for row in candidates}
    refs = {row[0]: (row[7] or "").strip().lower() for row in candidates}
    # Only records that share a key with what was typed, by keys made now (a record's stored keys may be old).
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE onecase_search_keys AS
            SELECT unique_id, key FROM ({_keys_sql("onecase_search_r")})
            WHERE key IN (SELECT unnest(?::VARCHAR[]))"""  # noqa: S608
        , [sorted(keys)])
    con.execute("""CREATE OR REPLACE TEMP TABLE onecase_search_r_features AS
                   SELECT * FROM onecase_search_r_features
                   WHERE unique_id IN (SELECT unique_id FROM onecase_search_keys)""")
    comparisons = list(_levels()[1])
    compared = [c for f in terms.fields() for c in COMPARED.get(f, ())]
    if terms.name and not any(given for given, _ in _readings(terms.name)[0]):
        compared = [c for c in compared if c != "given_name"]
    reference = terms.reference.lower() if terms.reference else None
    best: dict[int, PersonMatch] = {}
    for query_id, record_id, *gammas in _gammas(con, "onecase_search_q", "onecase_search_r"):
        if query_id in blocked_only:
            continue
        levels = dict(zip(comparisons, gammas, strict=True))
        judged = _judge(levels, compared, None if reference is None else refs[record_id] == reference)
        if judged is None:
            continue
        score, matched = judged
        person_id = person_of[record_id]
        current = best.get(person_id)
        if current is None or score > current.score:
            best[person_id] = PersonMatch(person_id, round(score, 3), dob_of[record_id], matched)
    ranked = sorted(best.values(), key=lambda m: (-m.score, m.person_id))
    return ranked[:limit]


def _disclosures(user, shown: list[tuple[int, int]]) -> list[tuple]:
    """(object type, person id, owning agency id, Disclosure) for each person and agency shown."""
    if not shown:
        return []
    now = timezone.now()
    people = sorted({person_id for person_id, _ in shown})
    raised = set(BreakGlass.objects.filter(user=user, person_id__in=people, expires_at__gt=now)
                 .values_list("person_id", flat=True))
    raised |= set(DisclosureRequest.objects.filter(
        requested_by=user, person_id__in=people, status=DisclosureRequest.Status.APPROVED, expires_at__gt=now,
    ).values_list("person_id", flat=True))
    work = work_purposes(user, people)
    found: dict[tuple, object] = {}
    out = []
    for person_id, agency_id in shown:
        purposes = {**EVERYDAY, **work.get(person_id, {})}
        # By purpose codes: the trail records the agreement and purpose relied on, not the work carrying it.
        key = (agency_id, tuple(sorted(purposes)), person_id if person_id in raised else None)
        if key not in found:
            found[key] = disclosure_for(user, agency_id, person_id=key[2], category=DataCategory.IDENTITY,
                                        purposes=purposes)
        out.append(("person", person_id, agency_id, found[key]))
    return out


def person_search_read(user, *, name: str = "", date_of_birth: dt.date | None = None, postcode: str = "",
                       nhs_number: str = "", reference: str = "", purpose: str = DEFAULT_PURPOSE, ip=None,
                       limit: int = RESULTS, api: bool = False) -> list[PersonResult]:
    """Search for people, as ``user`` may see them, recording the search (the fields used and how many
    were found, never what was typed) and, in the same transaction, each disclosure of another
    agency's records about each person shown: their name, address and involvement.

    Raises PermissionDenied for roles that see no people, ``SearchInvalid`` for what cannot be searched for.
    """
    if not may_search_people(user):
        raise PermissionDenied("Searching for people is for staff who work with people's records.")
    problems = {}
    try:
        terms = search_terms(name=name, date_of_birth=date_of_birth, postcode=postcode, nhs_number=nhs_number,
                             reference=reference)
    except SearchInvalid as invalid:
        problems = invalid.problems
    if purpose not in PURPOSES:
        problems["purpose"] = "Select why you are searching"
    if problems:
        raise SearchInvalid(problems)
    limit = max(1, min(int(limit), MAX_RESULTS))
    with identity_remembered():
        matches = person_search(user, terms, limit=limit)
        ids = [m.person_id for m in matches]
        names = person_names(user, ids)
        household_of = dict(Person.objects.filter(pk__in=ids).values_list("pk", "household_id"))
        known = known_households(user, {h for h in household_of.values() if h})
        addresses = {h.pk: h.address.label for h in Household.objects.filter(pk__in=known).select_related("address")}
        agencies = involved_agencies(user, ids)
    results = []
    for match in matches:
        household_id = household_of.get(match.person_id)
        household_id = household_id if household_id in known else None
        results.append(PersonResult(
            person_id=match.person_id, name=names.get(match.person_id, "Name not recorded"), score=match.score,
            date_of_birth=match.date_of_birth, household_id=household_id, address=addresses.get(household_id, ""),
            agencies=[a.name for a in agencies.get(match.person_id, [])], matched_on=match.matched_on,
        ))
    results.sort(key=lambda r: (-r.score, r.name.casefold(), r.person_id))
    shown = [(r.person_id, agency.pk) for r in results for agency in agencies.get(r.person_id, [])
             if agency.pk != getattr(user, "agency_id", None)]
    disclosures = _disclosures(user, shown)
    said = PURPOSES[purpose]
    with transaction.atomic():
        audit_record(user=user, action=AuditEvent.Action.SEARCH, object_type="person", purpose=said, ip=ip,
                     detail={"fields": terms.fields(), "results": len(results), "api": api})
        disclosures_record(user=user, disclosures=disclosures, purpose=said, ip=ip)
    return results


# -- keeping the keys ---------------------------------------------------------------------------------

@transaction.atomic
def search_index_rebuild() -> int:
    """Mark every agency person for new search keys (``search_index_refresh`` then makes them); returns how many.
    For an operator after restoring a database, or when the keys' definition changes."""
    SearchPending.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO linkage_searchpending (agency_person_id) SELECT id FROM people_agencyperson")
        return cursor.rowcount


def search_index_refresh(*, batch: int = 5000) -> int:
    """Make the search keys of every agency person added or changed since theirs were made (the queue
    the database fills), batch by batch. Run every minute by the job worker; returns how many."""
    con = _connection()
    done = 0
    while True:
        with transaction.atomic():
            pending = list(SearchPending.objects.select_for_update(skip_locked=True).order_by("id")
                           .values_list("id", "agency_person_id")[:batch])
            if not pending:
                break
            ids = sorted({agency_person_id for _, agency_person_id in pending})
            rows = list(AgencyPerson.objects.filter(pk__in=ids).order_by("pk").values_list(*RAW_FIELDS))
            _load(con, "onecase_search_index", rows)
            SearchKey.objects.filter(agency_person_id__in=ids).delete()
            dbio.insert_from("linkage_searchkey", ("agency_person_id", "key"), con,
                             f"SELECT unique_id, key FROM ({_keys_sql('onecase_search_index')}) ORDER BY 1, 2")  # noqa: S608
            SearchPending.objects.filter(pk__in=[pk for pk, _ in pending]).delete()
            done += len(ids)
    if done >= STATISTICS_AFTER and connection.vendor == "sqlite":
        # SQLite keeps no statistics until asked (PostgreSQL analyses by itself): without them its planner
        # reads whole agencies' records to find one household's people.
        with connection.cursor() as cursor:
            for table in ("people_agencyperson", "people_personlink", "people_person", "linkage_searchkey"):
                cursor.execute(f"ANALYZE {table}")
    if done:
        logger.info("person search: keys made for %d agency people", done)
    return done
