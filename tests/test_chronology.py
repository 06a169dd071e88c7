"""The chronology on household and person profiles: who each contact is about, filters, pages
(newest first, filtered and paged in the database) and a CSV of what is shown, audited as shown."""

import csv
import datetime as dt
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from onecase.accounts.models import Role
from onecase.contacts.models import Contact
from onecase.contacts.profiles import CHRONOLOGY_PAGE, ChronologyFilter, profile_read, subject_profile
from onecase.contacts.services import resolution_refresh
from onecase.imports.services import import_contacts
from onecase.people.models import Address, AgencyPerson, Household, Person, PersonLink
from onecase.sharing.models import AuditEvent, Tier
from onecase.sharing.services import agreement_create
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db

START = timezone.make_aware(dt.datetime(2025, 1, 1, 9))
# (agency, person_ref, given, family, contact type, words, how many)
RECORDS = [
    ("HOUSING", "AH", "Alice", "Ash", "rent_arrears_contact", "I can't pay my rent", 40),
    ("POLICE", "AP", "Alice", "Ash", "asb_report", "my neighbour is threatening me", 30),
    ("POLICE", "BP", "Ben", "Ash", "welfare_check", "the kids saw him hit me", 50),
]


@pytest.fixture
def family(write_file):
    housing = AgencyFactory(code="HOUSING", name="Kilnbury Housing")
    police = AgencyFactory(code="POLICE", name="Midshire Police")
    foodbank = AgencyFactory(code="FOODBANK", name="Kilnbury Food Bank")
    lines = ["agency,record_id,person_ref,occurred_at,contact_type,given_name,family_name,presenting_need"]
    # One contact a day, the records taking turns, so every page mixes them.
    turns = sorted(((k, i) for i, record in enumerate(RECORDS) for k in range(record[-1])))
    for day, (k, i) in enumerate(turns):
        code, ref, given, family_name, contact_type, words, _ = RECORDS[i]
        said = "=1+2" if (ref, k) == ("BP", 0) else words
        lines.append(f"{code},{ref}-{k},{ref},{(START + dt.timedelta(days=day)).isoformat()},{contact_type},"
                     f"{given},{family_name},\"{said}\"")
    lines.append(f"FOODBANK,CF-0,CF,{START.isoformat()},parcel,Cara,Ash,no food")
    import_contacts(actor=None, path=write_file("ash.csv", "\n".join(lines) + "\n"))
    household = Household.objects.create(address=Address.objects.create(postcode="ST4 4DD", line="4 Kiln Row, ST4 4DD"))
    people = {name: Person.objects.create(household=household) for name in ("alice", "ben", "cara")}
    owners = {"AH": "alice", "AP": "alice", "BP": "ben", "CF": "cara"}
    for record in AgencyPerson.objects.all():
        PersonLink.objects.create(agency_person=record, person=people[owners[record.person_ref]],
                                  match_probability=0.99)
    resolution_refresh()
    worker = UserFactory(agency=housing, role=Role.KEY_WORKER)
    return {"housing": housing, "police": police, "foodbank": foodbank, "household": household, "worker": worker,
            **people}


def _agreement(family, categories=("identity", "contacts", "needs"), tier=Tier.FULL):
    agreement_create(actor=None, reference="ISA-ASH", title="t", lawful_basis="public_task", purposes="p",
                     purpose_codes=["finding_families"], data_categories=list(categories),
                     starts_on=dt.date(2020, 1, 1), parties={family["housing"]: tier, family["police"]: tier})


def _rows(page: str) -> list[list[str]]:
    """The chronology table's rows, as the text of their cells."""
    table = page[page.index('id="chronology"'):]
    table = table[table.index("<tbody"):table.index("</tbody>")]
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)]


def _household(client, family, query=""):
    return client.get(f"/households/{family['household'].pk}/{query}").content.decode()


def test_a_who_column_names_the_person_each_contact_is_about(client, family):
    _agreement(family)
    sign_in(client, family["worker"])
    page = _household(client, family)
    assert '<th scope="col" class="govuk-table__header">Who</th>' in page
    rows = _rows(page)
    assert len(rows) == CHRONOLOGY_PAGE
    assert {row[1] for row in rows} == {"Alice Ash", "Ben Ash"}
    assert {row[2] for row in rows} <= {"Kilnbury Housing", "Midshire Police"}  # agencies by name
    assert "Welfare check" in {row[3] for row in rows}  # contact types in words
    # A person's own profile needs no Who column.
    person_page = client.get(f"/people/{family['ben'].pk}/").content.decode()
    assert '<th scope="col" class="govuk-table__header">Who</th>' not in person_page
    assert "the kids saw him hit me" in person_page


def test_someone_the_viewer_may_not_identify_is_described_never_numbered(client, family):
    _agreement(family)
    # Cara is known only to the food bank, which shares nothing; a police contact is about her.
    contact = Contact.objects.get(record_id="BP-49")
    Contact.objects.filter(pk=contact.pk).update(person=family["cara"])
    sign_in(client, family["worker"])
    page = _household(client, family)
    (row,) = [r for r in _rows(page) if r[0] == timezone.localtime(contact.occurred_at).strftime("%-d %b %Y %H:%M")]
    assert row[1] == "Another member of the household"
    cara = family["cara"].pk
    assert f"/people/{cara}/" not in page and f"Person {cara}" not in page and f'value="{cara}"' not in page
    # Her row was disclosed, so the disclosure is recorded.
    assert AuditEvent.objects.filter(user=family["worker"], action="disclose", object_id=str(cara),
                                     detail__owner_agency_id=family["police"].pk).count() == 1


def test_pages_run_newest_first_fifty_at_a_time(client, family):
    _agreement(family)
    sign_in(client, family["worker"])
    first = _household(client, family)
    assert "Showing 1 to 50 of 120 contacts, newest first." in first
    assert 'rel="next"' in first and "page=2" in first and "Older" in first
    last = _household(client, family, "?page=3")
    assert "Showing 101 to 120 of 120 contacts" in last and len(_rows(last)) == 20
    profile = subject_profile(family["worker"], kind="household", pk=family["household"].pk, page=2)
    times = [c.occurred_at for c in profile.chronology]
    assert times == sorted(times, reverse=True) and len(times) == CHRONOLOGY_PAGE
    assert max(times) < min(c.occurred_at for c in subject_profile(
        family["worker"], kind="household", pk=family["household"].pk, page=1).chronology)
    # A page past the end shows the last; a page that is not a number, the first.
    assert "Showing 101 to 120" in _household(client, family, "?page=99")
    assert "Showing 1 to 50" in _household(client, family, "?page=last-but-one")


def test_filters_by_person_agency_contact_type_and_dates(client, family):
    _agreement(family)
    worker, pk = family["worker"], family["household"].pk

    def shown(**filters):
        return subject_profile(worker, kind="household", pk=pk, filters=ChronologyFilter(**filters), export=True)

    assert shown().chronology_total == 120
    assert {c.who for c in shown(person_id=family["ben"].pk).chronology} == {"Ben Ash"}
    assert shown(person_id=family["ben"].pk).chronology_total == 50
    assert shown(agency_id=family["police"].pk).chronology_total == 80
    assert shown(contact_type="asb_report").chronology_total == 30
    first_ten = shown(since=dt.date(2025, 1, 1), until=dt.date(2025, 1, 10))
    assert first_ten.chronology_total == 10
    assert shown(since=dt.date(2025, 1, 10)).chronology_total == 111
    assert shown(person_id=family["alice"].pk, agency_id=family["police"].pk).chronology_total == 30
    # Someone the viewer may not identify, or an agency not seen in full, matches nothing.
    assert shown(person_id=family["cara"].pk).chronology_total == 0
    assert shown(agency_id=family["foodbank"].pk).chronology_total == 0

    sign_in(client, worker)
    page = _household(client, family, f"?person={family['ben'].pk}&agency={family['police'].pk}&type=welfare_check"
                                      "&since=2025-01-01&until=2025-12-31")
    assert "Showing 1 to 50 of 50 contacts that match the filters" in page
    assert f'<option value="{family["ben"].pk}" selected>Ben Ash</option>' in page
    assert f'<option value="{family["police"].pk}" selected>Midshire Police</option>' in page
    assert '<option value="welfare_check" selected>Welfare check</option>' in page
    assert "Kilnbury Food Bank</option>" not in page  # only agencies seen in full are offered
    assert 'class="govuk-link" href="/households/' in page and "Clear filters" in page
    assert "No contacts match these filters." in _household(client, family, "?type=no_such_type")


def test_filtering_and_paging_happen_in_the_database(family):
    _agreement(family)
    with CaptureQueriesContext(connection) as queries:
        subject_profile(family["worker"], kind="household", pk=family["household"].pk, page=2,
                        filters=ChronologyFilter(agency_id=family["police"].pk))
    (rows,) = [q["sql"] for q in queries.captured_queries
               if "contact_type" in q["sql"] and "ORDER BY" in q["sql"] and "occurred_at" in q["sql"].split("ORDER BY")[1]]
    assert re.search(rf"LIMIT (\d+) OFFSET {CHRONOLOGY_PAGE}$", rows)  # the second page: the rest of the 80
    assert "agency_id" in rows.split("WHERE")[1]


def test_bad_filters_are_explained_not_failed(client, family):
    _agreement(family)
    sign_in(client, family["worker"])
    response = client.get(f"/households/{family['household'].pk}/?since=2025-13-01&person=abc")
    page = response.content.decode()
    assert response.status_code == 200
    assert "There is a problem" in page and "<title>Error: " in page
    assert "Enter the date as year-month-day, for example 2025-04-01" in page
    assert "Select a person from the list" in page
    page = _household(client, family, f"?person={family['cara'].pk}")
    assert "Select a person from the list" in page and "No contacts match these filters." in page
    page = _household(client, family, "?since=2025-02-01&until=2025-01-01")
    assert "The end date must be the same as or after the start date" in page


def test_rows_come_only_from_agencies_shared_in_full(client, family):
    _agreement(family, tier=Tier.SUMMARY)
    sign_in(client, family["worker"])
    page = _household(client, family)
    assert "Showing 1 to 40 of 40 contacts" in page and "Midshire Police</option>" not in page
    assert "the kids saw him hit me" not in page
    assert "No contacts match" in _household(client, family, f"?agency={family['police'].pk}")


def test_the_download_holds_what_is_shown_and_is_audited_as_an_export(client, family):
    _agreement(family, categories=("identity", "contacts"))  # the police's words are not shared
    worker = family["worker"]
    sign_in(client, worker)
    before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = client.get(f"/households/{family['household'].pk}/?person={family['ben'].pk}&download=csv&page=2")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 50  # every matching row, not one page
    assert {r["Who"] for r in rows} == {"Ben Ash"} and {r["Agency"] for r in rows} == {"Midshire Police"}
    assert {r["In their words"] for r in rows} == {"Not shared under the agreement"}
    assert rows[0]["When"] > rows[-1]["When"]
    events = AuditEvent.objects.filter(id__gt=before)
    export = events.get(action="export")
    assert (export.object_type, export.object_id, export.detail["contacts"]) == (
        "household", str(family["household"].pk), 50)
    assert not events.filter(action="view").exists()
    disclosed = events.filter(action="disclose")
    assert {(e.object_id, e.detail["owner_agency_id"], e.detail["tier"]) for e in disclosed} == {
        (str(family["ben"].pk), family["police"].pk, "Full")}
    assert disclosed.count() == 1


def test_the_download_neutralises_formulas_and_shares_words_under_needs(client, family):
    _agreement(family)
    sign_in(client, family["worker"])
    text = client.get(f"/households/{family['household'].pk}/?type=welfare_check&download=csv").content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert "'=1+2" in {r["In their words"] for r in rows}
    assert "the kids saw him hit me" in {r["In their words"] for r in rows}


def test_disclosures_recorded_match_the_page(family):
    _agreement(family)
    worker, pk = family["worker"], family["household"].pk
    before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    profile = profile_read(worker, kind="household", pk=pk, filters=ChronologyFilter(agency_id=family["housing"].pk))
    assert {c.agency_id for c in profile.chronology} == {family["housing"].pk}
    events = AuditEvent.objects.filter(id__gt=before)
    view = events.get(action="view")
    assert view.detail == {"agencies": 2, "contacts": 40, "matching": 40, "filtered": True, "page": 1}
    # The agencies table shows the police's figures about each person identified: one disclosure each.
    assert {(e.object_id, e.detail["owner_agency_id"]) for e in events.filter(action="disclose")} == {
        (str(family["alice"].pk), family["police"].pk), (str(family["ben"].pk), family["police"].pk)}
    assert events.filter(action="disclose").count() == 2
