"""Production refuses the demo accounts: `demo_login`, the published password and the published authenticator."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from onecase.accounts.demo_credentials import DEFAULT_PASSWORD, demo_device_key
from onecase.accounts.models import Role, User
from onecase.sharing.models import AuditEvent
from tests.auth import current_code
from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(settings):
    settings.PRODUCTION = True
    return settings


def sign_in_with(client, username, password):
    return client.post(reverse("web:login"), {"username": username, "password": password})


def test_demo_login_is_refused_in_production_even_with_its_own_password(production, monkeypatch):
    monkeypatch.setenv("ONECASE_DEMO_PASSWORD", "a password chosen for this system")
    with pytest.raises(CommandError, match="Demo accounts cannot be created when ONECASE_ENV=production"):
        call_command("demo_login", stdout=io.StringIO())
    assert not User.objects.exists()


def test_the_published_demo_password_cannot_sign_in_in_production(client, production):
    user = UserFactory(username="demo-admin", role=Role.PARTNERSHIP_ADMIN, password=DEFAULT_PASSWORD)
    response = sign_in_with(client, "demo-admin", DEFAULT_PASSWORD)
    assert response.status_code == 200
    assert "This is the published demo password, which cannot be used on this system" in response.content.decode()
    assert "_auth_user_id" not in client.session
    refused = AuditEvent.objects.get(action=AuditEvent.Action.REFUSED)
    assert (refused.user_id, refused.detail) == (user.pk, {"demo_credentials": "password"})
    # Other accounts in production, and the demo password on a local system, still sign in.
    UserFactory(username="real-person")
    assert sign_in_with(client, "real-person", PASSWORD).status_code == 302


def test_the_demo_password_works_on_a_local_system(client, settings):
    settings.PRODUCTION = False
    UserFactory(username="demo-admin", password=DEFAULT_PASSWORD)
    assert sign_in_with(client, "demo-admin", DEFAULT_PASSWORD).status_code == 302


def test_this_systems_demo_password_is_refused_in_production_too(client, production, monkeypatch):
    monkeypatch.setenv("ONECASE_DEMO_PASSWORD", "a different demo password")
    UserFactory(username="demo-housing", password="a different demo password")
    response = sign_in_with(client, "demo-housing", "a different demo password")
    assert "_auth_user_id" not in client.session
    assert "published demo password" in response.content.decode()


def test_the_demo_authenticator_cannot_pass_two_factor_in_production(client, production):
    user = UserFactory(username="carried-over")
    device = TOTPDevice.objects.create(user=user, name="Demo authenticator", key=demo_device_key(), confirmed=True)
    assert sign_in_with(client, "carried-over", PASSWORD).status_code == 302
    response = client.post("/two-factor/", {"code": current_code(device)})
    assert response.status_code == 200
    assert "Your authenticator uses the published demo key" in response.content.decode()
    assert client.get("/").status_code == 302  # still not past the second factor
    refused = AuditEvent.objects.get(action=AuditEvent.Action.REFUSED)
    assert (refused.user_id, refused.detail) == (user.pk, {"demo_credentials": "authenticator"})


def test_any_other_authenticator_passes_two_factor_in_production(client, production):
    user = UserFactory(username="real-person")
    device = TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    sign_in_with(client, "real-person", PASSWORD)
    assert client.post("/two-factor/", {"code": current_code(device)}).status_code == 302
    assert client.get("/").status_code == 200
