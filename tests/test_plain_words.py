"""Pages speak in plain words: agency names, contact types as words, households by address and
people by name, never codes, snake_case or ids; and no page links to a profile its viewer may not open.

The sweep reuses the permission matrix's pages and its agency B; the focused tests build their own.
"""

import datetime as dt
import re

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from onecase.accounts.models import Role
from onecase.cases.services import action_add, case_open, grant_invite
from onecase.contacts.labels import agency_names, contact_type_label
from onecase.contacts.models import Contact
from onecase.contacts.services import resolution_refresh
from onecase.imports.services import import_contacts
from onecase.meetings.services import agenda_item_add
from onecase.people.models import Address, AgencyPerson, Household, Person, PersonLink
from onecase.sharing.models import Tier
from onecase.sharing.services import agreement_create
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory
from tests.test_meetings import plant_series_of
from tests.test_no_template_syntax import pages
from tests.test_permission_matrix import agency_b  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

PROFILE_LINK = re.compile(r'href="(/(?:households|people|cases)/\d+/)"')  # profiles and cases
# plant_series_of names its series "<code> MARAC": a name staff chose, not a code the page shows.
NOT_A_SERIES_NAME = r"(?! MARAC| team around)"
AN_ID = re.compile(r"\b(?:[Hh]ousehold|[Pp]erson|[Aa]ddress) \d+\b")


def visible_text(html: str) -> str:
    """What a reader sees or hears: no markup, scripts or codes hidden from assistive technology."""
    html = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r'<span aria-hidden="true">.*?</span>', " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_contact_types_read_as_words():
    assert contact_type_label("rent_arrears_contact") == "Rent arrears contact"
    assert contact_type_label("  asb__report ") == "Asb report"
    assert contact_type_label("") == "Not recorded"
    page = Template("{% load onecase_web %}{{ 'home_visit'|contact_type }}").render(Context())
    assert page == "Home visit"


def test_agency_codes_expand_to_names_for_screen_readers():
    AgencyFactory(code="CSC", name="Children's Social Care")
    assert agency_names()["CSC"] == "Children's Social Care"
    request = RequestFactory().get("/")
    html = Template("{% load onecase_web %}{% agency_abbr 'CSC' %} / {% agency_name 'CSC' %} / {% agency_name 'GONE' %}"
                    ).render(Context({"request": request}))
    assert '<abbr title="Children&#x27;s Social Care">' in html
    assert visible_text(html).split() == ["Children&#x27;s", "Social", "Care", "/", "Children&#x27;s", "Social", "Care",
                                          "/", "GONE"]


@pytest.fixture
def world(write_file):
    police = AgencyFactory(code="POLICE", name="Midshire Police")
    housing = AgencyFactory(code="HOUSING", name="Kilnbury Housing")
    content = ("record_id,person_ref,occurred_at,contact_type,given_name,family_name,address_line,postcode,"
               "presenting_need\n")
    rows = {police: [("P1", "2025-01-0{}", "domestic_incident")], housing: [("H1", "2025-02-0{}", "rent_arrears_contact")]}
    household = Household.objects.create(address=Address.objects.create(postcode="ST1 1AA", line="1 Kiln Row"))
    person = Person.objects.create(household=household)
    for agency, specs in rows.items():
        lines = [f"{agency.code}{ref}{n},{ref},{when.format(n)},{kind},Dana,Quorn,1 Kiln Row,ST1 1AA,help\n"
                 for ref, when, kind in specs for n in range(1, 4)]
        import_contacts(actor=None, path=write_file(f"{agency.code}.csv", content + "".join(lines)),
                        agency_code=agency.code)
        PersonLink.objects.create(agency_person=AgencyPerson.objects.get(agency=agency), person=person,
                                  match_probability=0.99)
    resolution_refresh()
    return {"police": police, "housing": housing, "household": household, "person": person}


def test_the_demand_dashboard_names_agencies_and_its_subjects(client, world):
    sign_in(client, UserFactory(agency=world["housing"], role=Role.PARTNERSHIP_ADMIN))
    for by, header, label in (("household", "Household", "1 Kiln Row"), ("person", "Person", "Dana Quorn")):
        html = client.get(f"/demand/?by={by}").content.decode()
        assert f'<th scope="col" class="govuk-table__header">{header}</th>' in html, by
        text = visible_text(html)
        assert "Midshire Police" in text and "Kilnbury Housing" in text, by
        assert not re.search(r"\b(POLICE|HOUSING)\b", text), by
        assert "Peopl<" not in html and "Addresse<" not in html
        assert label in text and not AN_ID.search(text), by
    assert f'href="/households/{world["household"].pk}/"' in client.get("/demand/").content.decode()


def test_analysts_see_figures_without_ids_or_links_they_cannot_follow(client, world):
    sign_in(client, UserFactory(agency=world["housing"], role=Role.ANALYST))
    html = client.get("/demand/").content.decode()
    assert "A household not named to your role" in html
    assert not PROFILE_LINK.search(html) and not AN_ID.search(visible_text(html))
    assert client.get(f"/households/{world['household'].pk}/").status_code == 403  # why there is no link


def test_profiles_and_cases_speak_in_addresses_names_and_agency_names(client, world):
    worker = UserFactory(agency=world["housing"], role=Role.KEY_WORKER)
    case = case_open(actor=None, key_worker=worker, household=world["household"])
    action_add(actor=None, case=case, title="Call the school", owner=worker, due_on=dt.date(2030, 1, 1))
    grant_invite(actor=None, case=case, invitee=None, agency=world["housing"], purpose="Rent",
                 ends_on=dt.date.today() + dt.timedelta(days=3))
    sign_in(client, worker)
    household = client.get(f"/households/{world['household'].pk}/").content.decode()
    assert '<span class="govuk-caption-l">Household</span>' in household
    person = client.get(f"/people/{world['person'].pk}/").content.decode()
    assert "Person in the household at 1 Kiln Row" in person
    contact = Contact.objects.filter(agency=world["housing"]).first()
    classify = visible_text(client.get(f"/contacts/{contact.pk}/classify/").content.decode())
    assert "Rent arrears contact" in classify and "rent_arrears_contact" not in classify
    for path in (f"/cases/{case.pk}/", "/cases/"):
        text = visible_text(client.get(path).content.decode())
        assert "Kilnbury Housing" in text and "1 Kiln Row" in text, path
        assert not re.search(r"\bHOUSING\b", text) and not AN_ID.search(text), path


def test_meeting_pages_name_subjects_and_link_only_to_profiles_the_viewer_may_open(client, world):
    made = plant_series_of(world["police"], person=world["person"], reason="Repeat incidents",
                           member=world["housing"])
    stranger = Person.objects.create(household=Household.objects.create(
        address=Address.objects.create(postcode="ZZ9 9ZZ", line="9 Hidden Lane")))
    meeting = next(iter(made.values()))
    agenda_item_add(actor=None, meeting=meeting, person=stranger, reason="Nobody here knows them")
    # A case at the police owns the household now: the agenda names it, without a link housing cannot follow.
    police_case = case_open(actor=None, key_worker=UserFactory(agency=world["police"], role=Role.KEY_WORKER),
                            household=world["household"])
    sign_in(client, UserFactory(agency=world["housing"], role=Role.PRACTITIONER))
    for path in (f"/meetings/{meeting.pk}/", "/meetings/overlaps/", "/meetings/costs/", "/meetings/"):
        html = client.get(path).content.decode()
        text = visible_text(html)
        assert not AN_ID.search(text), path
        assert "9 Hidden Lane" not in text and f"/people/{stranger.pk}/" not in html, path
        assert not re.search(r"\b(POLICE|HOUSING)\b" + NOT_A_SERIES_NAME, text), path
        for link in set(PROFILE_LINK.findall(html)):
            assert client.get(link).status_code == 200, (path, link)
    page = visible_text(client.get(f"/meetings/{meeting.pk}/").content.decode())
    assert "A person your agency holds no record of" in page
    assert f"{police_case.reference}, held at Midshire Police" in page


@pytest.mark.parametrize("viewer", ["owner", "partner", "stranger"])
@pytest.mark.parametrize("role", Role.values)
def test_matrix_pages_show_no_ids_or_bare_codes_and_link_to_no_refusal(client, agency_b, role, viewer):  # noqa: F811
    bravo = agency_b["agency"]
    if viewer == "owner":
        user = agency_b["case"].key_worker if role == Role.KEY_WORKER else UserFactory(agency=bravo, role=role)
    else:
        alpha = AgencyFactory(code="ALPHA")
        if viewer == "partner":
            agreement_create(actor=None, reference="ISA-AB", title="A and B", lawful_basis="public_task",
                             purposes="Testing", purpose_codes=["finding_families", "key_work"],
                             data_categories=["identity", "contacts", "needs"], starts_on=dt.date(2020, 1, 1),
                             parties={alpha: Tier.FULL, bravo: Tier.FULL})
        user = UserFactory(agency=alpha, role=role)
    sign_in(client, user)
    problems, links = [], set()
    for name, method, path in pages(agency_b):
        if method != "get":
            continue
        response = client.get(path)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        html = response.content.decode(errors="replace")
        text = visible_text(html)
        if found := AN_ID.findall(text):
            problems.append(f"{name}: ids {found}")
        if re.search(r"(?<!Agency )\b(BRAVO|ALPHA)\b" + NOT_A_SERIES_NAME, text):
            problems.append(f"{name}: a bare agency code")
        links |= set(PROFILE_LINK.findall(html))
    for link in sorted(links):
        if (status := client.get(link).status_code) != 200:
            problems.append(f"a link to {link} answers {status}")
    assert not problems, "\n".join(problems)
