"""The audit trail at the command line (`onecase audit`) and over the API (/api/v1/audit), scoped like the pages."""

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from rest_framework.test import APIClient

from onecase.accounts.models import Role
from onecase.accounts.services import token_create
from onecase.sharing.models import AuditEvent
from onecase.sharing.services import audit_record
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db

KEYS = ["action", "agency", "at", "object_id", "object_type", "purpose", "user"]


@pytest.fixture
def trail():
    police, housing = AgencyFactory(code="POLICE"), AgencyFactory(code="HOUSING")
    officer = UserFactory(agency=police, username="pc-one")
    tenant_officer = UserFactory(agency=housing, username="housing-one")
    audit_record(user=officer, action=AuditEvent.Action.VIEW, object_type="person", object_id=7, purpose="Safety")
    audit_record(user=tenant_officer, action=AuditEvent.Action.VIEW, object_type="person", object_id=8)
    return {"police": police, "housing": housing, "officer": officer, "tenant_officer": tenant_officer}


def audit_command(*args):
    out = io.StringIO()
    call_command("audit", *args, stdout=out)
    return out.getvalue()


def reads():
    return AuditEvent.objects.filter(object_type="audit", action=AuditEvent.Action.VIEW)


def test_an_operator_reads_the_whole_trail_as_json(trail):
    today = timezone.localdate().isoformat()
    rows = json.loads(audit_command("--since", today, "--json"))
    assert [row["user"] for row in rows] == ["pc-one", "housing-one"]
    assert sorted(rows[0]) == KEYS
    assert rows[0] | {"at": None} == {"user": "pc-one", "agency": "POLICE", "action": "view",
                                      "object_type": "person", "object_id": "7", "purpose": "Safety", "at": None}
    assert dt.datetime.fromisoformat(rows[0]["at"]).tzinfo is not None
    read = reads().get()
    assert read.user is None and read.detail == {"page": "command line", "shown": 2}


def test_the_command_filters_by_day_and_user(trail):
    today = timezone.localdate()
    assert json.loads(audit_command("--since", (today + dt.timedelta(days=1)).isoformat(), "--json")) == []
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    assert json.loads(audit_command("--since", yesterday, "--until", yesterday, "--json")) == []
    rows = json.loads(audit_command("--since", yesterday, "--user", "housing-one", "--json"))
    assert [row["user"] for row in rows] == ["housing-one"]


def test_as_a_dpo_the_command_shows_their_own_agencys_staff_only(trail):
    dpo = UserFactory(agency=trail["police"], role=Role.DPO, username="police-dpo")
    rows = json.loads(audit_command("--since", timezone.localdate().isoformat(), "--as", "police-dpo", "--json"))
    assert {row["user"] for row in rows} == {"pc-one"}
    assert reads().get().user == dpo


def test_the_command_refuses_to_read_as_someone_who_may_not(trail):
    with pytest.raises(CommandError, match="may not read the audit trail"):
        audit_command("--since", "2020-01-01", "--as", "pc-one", "--json")
    with pytest.raises(CommandError, match="may not read the audit trail"):
        audit_command("--since", "2020-01-01", "--as", "nobody-by-this-name")
    assert not reads().exists()


def api_get(user, path):
    token, secret = token_create(actor=None, user=user, name="test")
    return APIClient().get(path, HTTP_AUTHORIZATION=f"Token {secret}")


def test_the_api_gives_a_dpo_their_own_agencys_staffs_events_paginated(trail):
    dpo = UserFactory(agency=trail["housing"], role=Role.DPO)
    response = api_get(dpo, f"/api/v1/audit?since={timezone.localdate().isoformat()}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    users = {row["user"] for row in body["results"]}
    assert "housing-one" in users and "pc-one" not in users
    assert sorted(body["results"][0]) == KEYS
    assert reads().get().detail == {"page": "api", "shown": len(body["results"])}


def test_the_api_gives_an_auditor_everyone(trail):
    auditor = UserFactory(agency=trail["police"], role=Role.AUDITOR)
    rows = api_get(auditor, "/api/v1/audit?since=2020-01-01").json()["results"]
    assert {"pc-one", "housing-one"} <= {row["user"] for row in rows}


@pytest.mark.parametrize("role", [Role.KEY_WORKER, Role.ANALYST, Role.AGENCY_ADMIN])
def test_the_api_refuses_everyone_else(trail, role):
    response = api_get(UserFactory(agency=trail["police"], role=role), "/api/v1/audit?since=2020-01-01")
    assert response.status_code == 403
    assert "pc-one" not in response.content.decode()
    assert not reads().exists()


def test_the_api_answers_a_bad_date_with_400(trail):
    response = api_get(UserFactory(agency=trail["police"], role=Role.AUDITOR), "/api/v1/audit?since=yesterday")
    assert response.status_code == 400
