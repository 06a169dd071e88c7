"""Step-up requests, break the glass with re-authentication, the DPO's page and SAR download."""

import datetime as dt

import pytest

from onecase.accounts.models import Agency, Role
from onecase.sharing.models import Alert, AuditEvent, BreakGlass, BreakGlassRole, DisclosureRequest
from onecase.sharing.services import break_glass_role_set, break_glass_roles_default
from tests.auth import current_code, sign_in, totp_device
from tests.conftest import PASSWORD
from tests.factories import AgencyFactory, UserFactory
from tests.test_demand import city  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def agency(code):
    return Agency.objects.get(code=code)


def test_request_approved_by_the_owning_agency_opens_the_records(client, city):  # noqa: F811
    person = city["person"].pk
    worker = UserFactory(agency=agency("HOUSING"), role=Role.KEY_WORKER)
    sign_in(client, worker)
    assert "my neighbour is threatening me" not in client.get(f"/people/{person}/").content.decode()
    response = client.post(f"/people/{person}/request-access/",
                           {"agency": agency("POLICE").pk, "purpose": "Safety planning before a visit"})
    assert response.status_code == 302
    request = DisclosureRequest.objects.get()

    police_dpo = UserFactory(agency=agency("POLICE"), role=Role.DPO)
    sign_in(client, police_dpo)
    assert "Safety planning before a visit" in client.get("/requests/").content.decode()
    client.post(f"/requests/{request.pk}/decide/", {"decision": "approve"})
    request.refresh_from_db()
    assert request.status == "approved" and request.expires_at > request.decided_at + dt.timedelta(days=29)

    sign_in(client, worker)
    page = client.get(f"/people/{person}/").content.decode()
    assert "my neighbour is threatening me" in page


def test_only_the_owning_agency_decides(client, city):  # noqa: F811
    worker = UserFactory(agency=agency("HOUSING"), role=Role.KEY_WORKER)
    sign_in(client, worker)
    client.post(f"/people/{city['person'].pk}/request-access/", {"agency": agency("POLICE").pk, "purpose": "x" * 12})
    request = DisclosureRequest.objects.get()
    sign_in(client, UserFactory(agency=agency("FOODBANK"), role=Role.DPO))
    # Another agency's request answers as a missing one does: nothing tells that it exists.
    assert client.post(f"/requests/{request.pk}/decide/", {"decision": "approve"}).status_code == 404
    assert client.post(f"/requests/{request.pk + 100}/decide/", {"decision": "approve"}).status_code == 404
    request.refresh_from_db()
    assert request.status == "pending"


def test_break_the_glass_needs_password_and_code_and_alerts_the_dpo(client, city):  # noqa: F811
    person = city["person"].pk
    break_glass_role_set(actor=None, agency=agency("HOUSING"), role=Role.KEY_WORKER, allowed=True)
    worker = UserFactory(agency=agency("HOUSING"), role=Role.KEY_WORKER)
    device = totp_device(worker)
    sign_in(client, worker)
    reason = "Child at immediate risk and the police cannot be reached"
    wrong = client.post(f"/people/{person}/break-the-glass/", {"reason": reason, "password": "nope", "code": "000000"})
    assert "The password is not right" in wrong.content.decode()
    assert not BreakGlass.objects.exists()
    response = client.post(f"/people/{person}/break-the-glass/",
                           {"reason": reason, "password": PASSWORD, "code": current_code(device)})
    assert response.status_code == 302
    assert "my neighbour is threatening me" in client.get(f"/people/{person}/").content.decode()
    assert set(Alert.objects.values_list("agency__code", flat=True)) == {"POLICE", "FOODBANK"}
    police_dpo = UserFactory(agency=agency("POLICE"), role=Role.DPO)
    sign_in(client, police_dpo)
    assert "broke the glass on person" in client.get("/data-protection/").content.decode()
    assert AuditEvent.objects.filter(action="disclose", detail__break_glass__isnull=False).count() == 1


def test_dpo_downloads_the_subject_access_bundle(client, city):  # noqa: F811
    dpo = UserFactory(agency=agency("HOUSING"), role=Role.DPO)
    sign_in(client, dpo)
    page = client.get(f"/people/{city['person'].pk}/").content.decode()
    assert "Download the subject access bundle" in page
    response = client.get(f"/people/{city['person'].pk}/subject-access.zip")
    assert response["Content-Type"] == "application/zip" and response.content[:2] == b"PK"
    sign_in(client, UserFactory(agency=agency("HOUSING"), role=Role.KEY_WORKER))
    assert client.get(f"/people/{city['person'].pk}/subject-access.zip").status_code == 403


def set_sector(code, sector):
    """The agency as if created with ``sector``: its default break-the-glass settings follow the sector."""
    Agency.objects.filter(code=code).update(sector=sector)
    BreakGlassRole.objects.filter(agency__code=code).delete()
    break_glass_roles_default(actor=None, agency=agency(code))


def break_glass_post(client, person, device):
    return client.post(f"/people/{person}/break-the-glass/", {
        "reason": "Child at immediate risk and nobody else can be reached", "password": PASSWORD,
        "code": current_code(device),
    })


def test_a_voluntary_sector_volunteer_may_not_break_the_glass(client, city):  # noqa: F811
    set_sector("FOODBANK", "voluntary")
    person = city["person"].pk
    volunteer = UserFactory(agency=agency("FOODBANK"), role=Role.VOLUNTARY_PARTNER)
    device = totp_device(volunteer)
    sign_in(client, volunteer)
    assert "Break the glass" not in client.get(f"/people/{person}/").content.decode()
    page = client.get(f"/people/{person}/break-the-glass/")
    assert page.status_code == 403 and "You cannot see this page" in page.content.decode()
    assert break_glass_post(client, person, device).status_code == 403
    assert not BreakGlass.objects.exists() and not Alert.objects.exists()
    assert "my neighbour is threatening me" not in client.get(f"/people/{person}/").content.decode()
    refused = AuditEvent.objects.filter(action="refused", username=volunteer.username,
                                        detail__path=f"/people/{person}/break-the-glass/")
    assert refused.count() == 2


def test_a_police_officer_allowed_by_the_setting_may_until_it_is_switched_off(client, city):  # noqa: F811
    set_sector("POLICE", "police")
    person = city["person"].pk
    officer = UserFactory(agency=agency("POLICE"), role=Role.PRACTITIONER)
    device = totp_device(officer)
    sign_in(client, officer)
    assert "Break the glass" in client.get(f"/people/{person}/").content.decode()
    assert client.get(f"/people/{person}/break-the-glass/").status_code == 200
    assert break_glass_post(client, person, device).status_code == 302
    assert BreakGlass.objects.filter(user=officer).count() == 1

    setting = BreakGlassRole.objects.get(agency__code="POLICE", role=Role.PRACTITIONER)
    admin = UserFactory(agency=AgencyFactory(code="PARTNERSHIP"), role=Role.PARTNERSHIP_ADMIN)
    sign_in(client, admin)
    assert client.get("/admin/sharing/breakglassrole/").status_code == 200
    assert client.post(f"/admin/sharing/breakglassrole/{setting.pk}/change/", {}).status_code == 302
    setting.refresh_from_db()
    assert not setting.allowed
    assert AuditEvent.objects.filter(object_type="break_glass_role", object_id=str(setting.pk),
                                     detail__allowed=False, username=admin.username).count() == 1

    sign_in(client, officer)
    assert "Break the glass" not in client.get(f"/people/{person}/").content.decode()
    assert client.get(f"/people/{person}/break-the-glass/").status_code == 403
    assert break_glass_post(client, person, device).status_code == 403
    assert BreakGlass.objects.filter(user=officer).count() == 1
