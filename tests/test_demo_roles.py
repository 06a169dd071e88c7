"""Roles that work in the demo: a DPO per agency, the owning agency decides requests, a home page per role,
and who is signed in shown in the header."""

import datetime as dt
import html
import io

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from onecase.accounts.demo_credentials import DEFAULT_PASSWORD, demo_device_key
from onecase.accounts.models import Agency, Role, User
from onecase.cases import services as cases
from onecase.cases.models import Action
from onecase.demo.catalogue import AGENCIES
from onecase.imports.jobs import job_create
from onecase.people.models import Household
from onecase.sharing.models import DisclosureRequest, Tier
from onecase.sharing.rules import may_decide_request
from onecase.sharing.services import (
    agreement_create,
    break_glass,
    break_glass_role_set,
    disclosure_request_create,
    disclosure_request_decide,
)
from tests.auth import sign_in
from tests.factories import UserFactory
from tests.test_demand import city  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(monkeypatch, city):  # noqa: F811
    """The small test city with the demo accounts on top: {username: user}."""
    monkeypatch.delenv("ONECASE_DEMO_PASSWORD", raising=False)
    call_command("demo_login", stdout=io.StringIO())
    return {u.username: u for u in User.objects.select_related("agency")}


def page(client, user, url="/"):
    sign_in(client, user)
    response = client.get(url)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def request_police_records(demo, city):  # noqa: F811
    return disclosure_request_create(actor=demo["demo-housing"], person=city["person"],
                                     owner_agency=Agency.objects.get(code="POLICE"),
                                     purpose="Safety planning before a home visit")


def test_demo_login_gives_every_demo_agency_a_dpo(monkeypatch):
    monkeypatch.delenv("ONECASE_DEMO_PASSWORD", raising=False)
    out = io.StringIO()
    call_command("demo_login", stdout=out)
    dpos = {u.agency.code: u for u in User.objects.filter(role=Role.DPO).select_related("agency")
            if u.agency.code != "PARTNERSHIP"}
    assert set(dpos) == {spec.code for spec in AGENCIES}
    for spec in AGENCIES:
        dpo = dpos[spec.code]
        assert dpo.username == f"demo-{spec.code.lower()}-dpo"
        assert dpo.agency.name == spec.name and not dpo.is_staff and not dpo.is_superuser
        assert dpo.check_password(DEFAULT_PASSWORD)
        (device,) = TOTPDevice.objects.filter(user=dpo)
        assert device.key == demo_device_key() and device.confirmed
        # The printed list names each account and its agency by name.
        assert f"{dpo.username} " in out.getvalue() and spec.name in out.getvalue()
    # The partnership's DPO, who reads the partnership staff's audit trail, is still there.
    assert User.objects.get(username="demo-dpo").agency.code == "PARTNERSHIP"


def test_an_agency_dpo_sees_their_own_agencys_break_the_glass_alerts(client, demo, city):  # noqa: F811
    housing = Agency.objects.get(code="HOUSING")
    break_glass_role_set(actor=None, agency=housing, role=Role.PRACTITIONER, allowed=True)
    owners = list(Agency.objects.filter(code__in=["POLICE", "FOODBANK"]).values_list("pk", flat=True))
    break_glass(actor=demo["demo-housing"], person=city["person"], owner_agency_ids=owners,
                reason="A child is at immediate risk and the police cannot be reached")

    home = page(client, demo["demo-police-dpo"])
    assert "Alerts in the last 7 days" in home and alert_count(home, "Break the glass") == "1"
    dpo_page = page(client, demo["demo-police-dpo"], "/data-protection/")
    assert "demo-housing broke the glass" in dpo_page
    # Another agency's DPO is not told about records their agency does not hold.
    assert "broke the glass" not in page(client, demo["demo-csc-dpo"], "/data-protection/")


def alert_count(body: str, label: str) -> str:
    flat = " ".join(body.split())
    key = f'<dt class="govuk-summary-list__key">{label}</dt> <dd class="govuk-summary-list__value">'
    return flat.split(key, 1)[1].split("<", 1)[0]


def test_the_dpo_home_counts_alerts_of_their_agency_only(client, demo, city):  # noqa: F811
    housing = Agency.objects.get(code="HOUSING")
    break_glass_role_set(actor=None, agency=housing, role=Role.PRACTITIONER, allowed=True)
    police = Agency.objects.get(code="POLICE")
    break_glass(actor=demo["demo-housing"], person=city["person"], owner_agency_ids=[police.pk],
                reason="A child is at immediate risk and the police cannot be reached")
    assert alert_count(page(client, demo["demo-police-dpo"]), "Break the glass") == "1"
    assert alert_count(page(client, demo["demo-foodbank-dpo"]), "Break the glass") == "0"


def test_the_owning_agency_decides_and_the_partnership_administrator_cannot(client, demo, city):  # noqa: F811
    request = request_police_records(demo, city)
    admin = demo["demo-admin"]
    assert admin.is_superuser and not may_decide_request(admin, request)
    with pytest.raises(PermissionDenied):
        disclosure_request_decide(actor=admin, request=request, approve=True)
    sign_in(client, admin)
    assert "Safety planning before a home visit" not in client.get("/requests/").content.decode()
    # The page answers as for a missing request: nothing tells the partnership it exists.
    assert client.post(f"/requests/{request.pk}/decide/", {"decision": "approve"}).status_code == 404
    request.refresh_from_db()
    assert request.status == DisclosureRequest.Status.PENDING

    # The police DPO and the police administrator both may; the DPO's home lists it.
    assert may_decide_request(demo["demo-police-admin"], request)
    assert "Safety planning before a home visit" in page(client, demo["demo-police-dpo"])
    assert "Safety planning before a home visit" not in page(client, demo["demo-housing-dpo"])
    sign_in(client, demo["demo-police-dpo"])
    assert client.post(f"/requests/{request.pk}/decide/", {"decision": "approve"}).status_code == 302
    request.refresh_from_db()
    assert request.status == DisclosureRequest.Status.APPROVED and request.decided_by == demo["demo-police-dpo"]


@pytest.fixture
def casework(demo):
    """A CSC case held by demo-keyworker, with an overdue action, and an invitation to demo-housing."""
    agreement_create(actor=None, reference="ISA-T", title="Families", lawful_basis="public_task", purposes="Key work",
                     purpose_codes=["finding_families", "key_work"], data_categories=["identity", "contacts", "needs"],
                     starts_on=dt.date(2020, 1, 1),
                     parties={Agency.objects.get(code="CSC"): Tier.FULL, Agency.objects.get(code="HOUSING"): Tier.FULL})
    worker = demo["demo-keyworker"]
    household = Household.objects.order_by("pk").first()
    case = cases.case_open(actor=None, key_worker=worker, household=household, summary="Rent and school")
    action = cases.action_add(actor=worker, case=case, title="Ring the school about attendance", owner=worker,
                              due_on=timezone.localdate() + dt.timedelta(days=1))
    Action.objects.filter(pk=action.pk).update(due_on=timezone.localdate() - dt.timedelta(days=3))
    grant = cases.grant_invite(actor=worker, case=case, invitee=demo["demo-housing"], purpose="Tenancy at risk",
                               ends_on=timezone.localdate() + dt.timedelta(days=30))
    return {"case": case, "grant": grant}


def test_a_key_workers_home_shows_cases_invitations_and_overdue_actions(client, demo, casework):
    home = page(client, demo["demo-keyworker"])
    case = casework["case"]
    assert "Cases you hold" in home and f'href="/cases/{case.pk}/">{case.reference}</a>' in home
    assert "Ring the school about attendance" in home and "Overdue actions" in home
    assert "Contacts and agency people by agency" not in home

    invited = page(client, demo["demo-housing"])
    assert "Invitations to join a case" in invited and "Tenancy at risk" in invited
    assert "demo-keyworker, Kilnbury Children's Social Care" in invited
    assert "Accept or decline invitations" in invited


def test_an_agency_administrators_home_shows_their_agencys_imports(client, demo, settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    content = b"agency,record_id,person_ref,occurred_at,contact_type\n"
    job_create(actor=demo["demo-police-admin"], upload=SimpleUploadedFile("police-march.csv", content),
               agency_code="POLICE")
    fire_admin = UserFactory(agency=Agency.objects.get(code="FIRE"), role=Role.AGENCY_ADMIN)
    job_create(actor=fire_admin, upload=SimpleUploadedFile("fire-march.csv", content), agency_code="FIRE")
    home = page(client, demo["demo-police-admin"])
    assert "Your agency's imports" in home and "police-march.csv" in home
    assert "fire-march.csv" not in home
    assert "Upload contacts" in home and "Requests for your agency's records" in home


@pytest.mark.parametrize("username", ["demo-analyst", "demo-auditor", "demo-admin"])
def test_analysts_auditors_and_the_partnership_see_the_agency_counts(client, demo, username):
    home = page(client, demo[username])
    assert "Contacts and agency people by agency" in home
    rows = {a.name for a in Agency.objects.all() if f'<th scope="row" class="govuk-table__header">{a.name}</th>' in home}
    # Analysts and the partnership count every agency; an auditor their own.
    everyone = set(Agency.objects.values_list("name", flat=True))
    assert rows == ({"Kilnbury Partnership"} if username == "demo-auditor" else everyone)
    assert "Cases you hold" not in home and "Alerts in the last" not in home


@pytest.mark.parametrize("username, role, agency", [
    ("demo-keyworker", "key worker", "Kilnbury Children's Social Care"),
    ("demo-csc-dpo", "data protection officer", "Kilnbury Children's Social Care"),
    ("demo-frontdoor", "call handler / front door", "Kilnbury City Council Revenues and Benefits"),
    ("demo-admin", "partnership administrator", "Kilnbury Partnership"),
])
def test_the_header_says_who_is_signed_in_as_which_role_and_agency(client, demo, username, role, agency):
    body = page(client, demo[username], "/meetings/")
    assert f"Signed in as {username}, {role}, {agency}" in " ".join(body.replace("<strong>", "").replace(
        "</strong>", "").split())


def test_the_header_names_nobody_before_sign_in(client, db):
    assert "Signed in as" not in client.get("/sign-in/").content.decode()
