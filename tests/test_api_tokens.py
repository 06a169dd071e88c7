"""API tokens: stored as digests, expiring, named, noted when used, revocable, and issued on the web
only after a fresh two-factor code."""

import datetime as dt

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from rest_framework.test import APIClient

from onecase.accounts.models import ApiToken, Role
from onecase.accounts.services import token_create
from onecase.sharing.models import AuditEvent
from tests.auth import current_code, sign_in, totp_device
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db


def api_get(secret, path="/api/v1/agencies/"):
    return APIClient().get(path, HTTP_AUTHORIZATION=f"Token {secret}")


def every_stored_value():
    values = []
    for model in apps.get_models():
        if model._meta.managed and not model._meta.proxy:
            for row in model.objects.values_list():
                values.extend(str(value) for value in row)
    return values


def next_code(device):
    """The code of the next 30-second step: the one used to sign in cannot be used twice."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0 - device.step, digits=device.digits):06d}"


@pytest.fixture
def police():
    return AgencyFactory(code="POLICE", name="Police")


def test_only_a_digest_of_the_token_is_stored(agency_admin):
    token, secret = token_create(actor=None, user=agency_admin, name="Case system")
    assert len(secret) == 64 and api_get(secret).status_code == 200
    stored = every_stored_value()
    assert secret not in stored
    assert not any(secret in value for value in stored)
    assert token.digest != secret and token.token_key == secret[:15]
    issued = AuditEvent.objects.get(object_type="api_token")
    assert issued.object_id == str(token.pk) and issued.detail == {"issued": True, "user_id": agency_admin.pk,
                                                                    "days": 90}


def test_tokens_expire_after_the_configured_days(agency_admin, settings):
    settings.ONECASE_API_TOKEN_DAYS = 30
    token, secret = token_create(actor=None, user=agency_admin, name="Case system")
    assert dt.timedelta(days=29, hours=23) < token.expiry - timezone.now() <= dt.timedelta(days=30)
    ApiToken.objects.filter(pk=token.pk).update(expiry=timezone.now() - dt.timedelta(seconds=1))
    response = api_get(secret)
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"


def test_a_revoked_token_is_refused(client, agency_admin):
    token, secret = token_create(actor=None, user=agency_admin, name="Case system")
    assert api_get(secret).status_code == 200
    sign_in(client, agency_admin)
    response = client.post(reverse("web:api_token_revoke", args=[token.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("web:api_tokens")
    response = api_get(secret)
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    revoked = AuditEvent.objects.get(object_type="api_token", detail__revoked=True)
    assert revoked.user == agency_admin and revoked.object_id == str(token.pk)
    assert secret not in str(revoked.detail)


def test_a_token_of_a_deactivated_account_is_refused(agency_admin):
    _, secret = token_create(actor=None, user=agency_admin, name="Case system")
    agency_admin.is_active = False
    agency_admin.save()
    assert api_get(secret).status_code == 401


def test_last_use_is_noted_at_most_once_a_minute(agency_admin):
    token, secret = token_create(actor=None, user=agency_admin, name="Case system")
    assert token.last_used is None
    api_get(secret)
    token.refresh_from_db()
    first = token.last_used
    assert first is not None and timezone.now() - first < dt.timedelta(minutes=1)
    api_get(secret)
    token.refresh_from_db()
    assert token.last_used == first
    earlier = timezone.now() - dt.timedelta(minutes=5)
    ApiToken.objects.filter(pk=token.pk).update(last_used=earlier)
    api_get(secret)
    token.refresh_from_db()
    assert token.last_used > earlier + dt.timedelta(minutes=4)


def test_creating_a_token_on_the_web_needs_a_fresh_code(client, agency_admin):
    device = totp_device(agency_admin)
    sign_in(client, agency_admin)
    page = client.get(reverse("web:api_token_new"))
    assert page.status_code == 200 and 'value="90"' in page.content.decode()

    without = client.post(reverse("web:api_token_new"), {"name": "Case system", "days": "30"})
    assert without.status_code == 200 and "Enter the 6-digit code" in without.content.decode()
    wrong = f"{(int(current_code(device)) + 1) % 1000000:06d}"
    refused = client.post(reverse("web:api_token_new"), {"name": "Case system", "days": "30", "code": wrong})
    assert refused.status_code == 200 and "The code is not right" in refused.content.decode()
    assert not ApiToken.objects.exists()

    device.refresh_from_db()  # wrong codes slow the next try down
    device.throttling_failure_count, device.throttling_failure_timestamp = 0, None
    device.save()
    created = client.post(reverse("web:api_token_new"),
                          {"name": "Case system", "days": "30", "code": current_code(device)})
    assert created.status_code == 200
    token = ApiToken.objects.get()
    assert (token.user, token.name) == (agency_admin, "Case system")
    assert dt.timedelta(days=29, hours=23) < token.expiry - timezone.now() <= dt.timedelta(days=30)
    html = created.content.decode()
    secret = html.split("<code>")[1].split("</code>")[0]
    assert "It will not be shown again" in html and len(secret) == 64
    assert api_get(secret).status_code == 200

    # The same code cannot be used twice, and the list never shows the secret again.
    again = client.post(reverse("web:api_token_new"),
                        {"name": "Another", "days": "30", "code": current_code(device)})
    assert again.status_code == 200 and "The code is not right" in again.content.decode()
    assert ApiToken.objects.count() == 1
    listed = client.get(reverse("web:api_tokens")).content.decode()
    assert "Case system" in listed and "Never" not in listed and secret not in listed


def test_the_form_explains_mistakes(client, agency_admin):
    device = totp_device(agency_admin)
    sign_in(client, agency_admin)
    response = client.post(reverse("web:api_token_new"), {"name": "", "days": "999", "code": next_code(device)})
    html = response.content.decode()
    assert response.status_code == 200 and "Error: Create an API token" in html
    assert "Enter a name for the token" in html and "Enter 366 days or fewer" in html
    assert not ApiToken.objects.exists()


def test_agency_admins_revoke_their_agencys_tokens_only(client, police):
    admin = UserFactory(agency=police, role=Role.AGENCY_ADMIN)
    colleague = UserFactory(agency=police, role=Role.PRACTITIONER, username="police_system")
    outsider = UserFactory(agency=AgencyFactory(code="FIRE"), role=Role.PRACTITIONER, username="fire_system")
    ours, _ = token_create(actor=None, user=colleague, name="Police case system")
    theirs, their_secret = token_create(actor=None, user=outsider, name="Fire case system")

    sign_in(client, admin)
    listed = client.get(reverse("web:api_tokens")).content.decode()
    assert "Police case system" in listed and "police_system" in listed
    assert "Fire case system" not in listed and "fire_system" not in listed
    assert client.post(reverse("web:api_token_revoke", args=[theirs.pk])).status_code == 404
    assert ApiToken.objects.filter(pk=theirs.pk).exists() and api_get(their_secret).status_code == 200
    assert client.post(reverse("web:api_token_revoke", args=[ours.pk])).status_code == 302
    assert not ApiToken.objects.filter(pk=ours.pk).exists()

    # A practitioner sees and revokes only their own.
    own, _ = token_create(actor=None, user=colleague, name="Mine")
    other, _ = token_create(actor=None, user=admin, name="The admin's")
    sign_in(client, colleague)
    listed = client.get(reverse("web:api_tokens")).content.decode()
    assert "Mine" in listed and "The admin&#x27;s" not in listed and "Other staff" not in listed
    assert client.post(reverse("web:api_token_revoke", args=[other.pk])).status_code == 404
    assert client.post(reverse("web:api_token_revoke", args=[own.pk])).status_code == 302
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["The admin's", "Fire case system"]


def test_partnership_admins_revoke_any_token(client, partnership_admin, police):
    token, _ = token_create(actor=None, user=UserFactory(agency=police), name="Police case system")
    sign_in(client, partnership_admin)
    assert "Police case system" in client.get(reverse("web:api_tokens")).content.decode()
    assert client.post(reverse("web:api_token_revoke", args=[token.pk])).status_code == 302
    assert not ApiToken.objects.exists()


def test_the_page_lists_names_and_dates_and_is_in_the_menu(client, agency_admin):
    token, secret = token_create(actor=None, user=agency_admin, name="Case system", days=10)
    sign_in(client, agency_admin)
    html = client.get(reverse("web:api_tokens")).content.decode()
    assert "<title>API tokens – OneCase</title>" in html
    assert 'href="/api-tokens/"' in client.get(reverse("web:home")).content.decode()
    assert "Case system" in html and "Never" in html
    assert timezone.localtime(token.expiry).strftime("%-d %b %Y") in html
    assert secret not in html and token.digest not in html
    ApiToken.objects.filter(pk=token.pk).update(expiry=timezone.now() - dt.timedelta(days=1))
    assert "Expired" in client.get(reverse("web:api_tokens")).content.decode()
