"""Provisioning agencies, staff and API tokens from the command line."""

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory
from rest_framework.test import APIClient

from onecase.accounts.models import Agency, User
from onecase.sharing.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_create_agency_user_and_token(monkeypatch, capsys, settings):
    from onecase.config import settings as product_settings

    settings.PASSWORD_HASHERS = product_settings.PASSWORD_HASHERS
    call_command("create_agency", "housing", name="City Housing", sector="council")
    agency = Agency.objects.get(code="HOUSING")
    assert (agency.name, agency.sector) == ("City Housing", "council")

    monkeypatch.setenv("ONECASE_PASSWORD", "a long enough passphrase 42")
    call_command("create_user", "hsys", agency="HOUSING", role="agency_admin")
    user = User.objects.get(username="hsys")
    assert (user.agency, user.role) == (agency, "agency_admin")
    assert user.password.startswith("argon2")
    request = RequestFactory().post("/sign-in/")
    assert authenticate(request, username="hsys", password="a long enough passphrase 42") == user

    capsys.readouterr()
    call_command("create_token", "hsys")
    output = capsys.readouterr()
    key = output.out.strip().splitlines()[-1]
    assert len(key) == 64 and output.out.strip() == key  # the secret alone, so scripts can capture it
    token = user.auth_token_set.get()
    assert token.name == "Issued at the command line"
    assert f"API token {token.pk} for hsys" in output.err
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/v1/agencies/")
    assert response.status_code == 200
    assert [row["code"] for row in response.json()] == ["HOUSING"]
    assert AuditEvent.objects.filter(object_type__in=["agency", "user", "api_token"]).count() == 3


def test_create_user_refuses_weak_passwords_and_unknown_roles(monkeypatch):
    call_command("create_agency", "POLICE", name="Police", sector="police")
    monkeypatch.setenv("ONECASE_PASSWORD", "short")
    with pytest.raises(CommandError, match="too short"):
        call_command("create_user", "p1", agency="POLICE", role="practitioner")
    monkeypatch.setenv("ONECASE_PASSWORD", "a long enough passphrase 42")
    with pytest.raises(CommandError, match="No agency"):
        call_command("create_user", "p1", agency="NOPE", role="practitioner")
    with pytest.raises(CommandError):
        call_command("create_user", "p1", agency="POLICE", role="emperor")
    assert not User.objects.filter(username="p1").exists()


def test_create_token_names_dates_and_replaces(capsys, agency_admin):
    from onecase.accounts.models import ApiToken

    call_command("create_token", "police_admin", name="Case system", days=7)
    first = capsys.readouterr().out.strip().splitlines()[-1]
    token = ApiToken.objects.get(user=agency_admin)
    assert token.name == "Case system"
    assert 6.9 < (token.expiry - token.created).total_seconds() / 86400 <= 7
    call_command("create_token", "police_admin", name="Case system, new", replace=True)
    second = capsys.readouterr().out.strip().splitlines()[-1]
    assert list(ApiToken.objects.filter(user=agency_admin).values_list("name", flat=True)) == ["Case system, new"]
    client = APIClient()
    assert client.get("/api/v1/agencies/", HTTP_AUTHORIZATION=f"Token {first}").status_code == 401
    assert client.get("/api/v1/agencies/", HTTP_AUTHORIZATION=f"Token {second}").status_code == 200
    revoked = AuditEvent.objects.get(object_type="api_token", detail__revoked=True)
    assert revoked.object_id == str(token.pk) and first not in str(revoked.detail)
    with pytest.raises(CommandError, match="between 1 and 366 days"):
        call_command("create_token", "police_admin", days=0)
    with pytest.raises(CommandError, match="No active user"):
        call_command("create_token", "nobody")
