"""Sign-in and session security: two factors, lockout, session lifetime, headers."""

import os
import subprocess
import sys
import time

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.urls import reverse

from onecase.accounts.middleware import SIGNED_IN_AT
from onecase.accounts.sign_in import typed_username_hash
from onecase.sharing.models import AuditEvent
from tests.auth import current_code, sign_in, totp_device
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def password_sign_in(client, username, password=PASSWORD):
    return client.post(reverse("web:login"), {"username": username, "password": password})


def test_password_alone_reaches_nothing_but_the_second_factor(client, agency_admin):
    password_sign_in(client, "police_admin")
    for path in ("/", "/imports/", "/imports/new/", "/admin/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/two-factor/setup/")
    api = client.get("/api/v1/agencies/")
    assert api.status_code == 403
    assert b"POLICE" not in api.content


def test_setting_up_an_authenticator_writes_nothing_until_the_button_is_pressed(client, agency_admin):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    password_sign_in(client, "police_admin")
    events = AuditEvent.objects.count()
    page = client.get("/two-factor/setup/?next=/imports/")
    assert page.status_code == 200
    assert "Set up my authenticator" in page.content.decode() and "app-secret" not in page.content.decode()
    assert (TOTPDevice.objects.count(), AuditEvent.objects.count()) == (0, events)

    started = client.post("/two-factor/setup/", {"start": "1", "next": "/imports/"})
    assert started.status_code == 302 and started["Location"] == "/two-factor/setup/?next=%2Fimports%2F"
    client.post("/two-factor/setup/", {"start": "1", "next": "/imports/"})  # pressed twice: still one key
    device = TOTPDevice.objects.get(user=agency_admin, confirmed=False)
    made = AuditEvent.objects.get(object_type="user", detail__two_factor="authenticator key made")
    assert made.user_id == agency_admin.pk

    events = AuditEvent.objects.count()
    assert "app-secret" in client.get(started["Location"]).content.decode()
    assert (TOTPDevice.objects.count(), AuditEvent.objects.count()) == (1, events)
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    confirmed = client.post("/two-factor/setup/", {"code": code, "next": "/imports/"})
    assert confirmed.status_code == 302 and confirmed["Location"] == "/imports/"
    assert TOTPDevice.objects.get().confirmed
    assert client.get("/").status_code == 200


def test_wrong_code_is_refused_and_audited(client, agency_admin):
    device = totp_device(agency_admin)
    password_sign_in(client, "police_admin")
    wrong = f"{(int(current_code(device)) + 1) % 1000000:06d}"
    response = client.post("/two-factor/", {"code": wrong})
    assert response.status_code == 200
    assert "The code is not right" in response.content.decode()
    assert client.get("/").status_code == 302
    assert AuditEvent.objects.filter(action="sign_in_failed", detail__two_factor="wrong code").count() == 1


def test_session_key_rotates_at_sign_in(client, agency_admin):
    client.get(reverse("web:login"))
    client.session.save()
    before = client.session.session_key
    password_sign_in(client, "police_admin")
    assert client.session.session_key != before


def test_lockout_by_username_with_cool_off(client, agency_admin, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        password_sign_in(client, "police_admin", "not the password")
    locked = password_sign_in(client, "police_admin")
    assert locked.status_code == 429
    assert "Your account is locked for now" in locked.content.decode()
    # Another person on the same (shared council) network is not locked out.
    from tests.factories import UserFactory

    UserFactory(username="colleague")
    assert password_sign_in(client, "colleague").status_code == 302
    # Axes locks on the hash of the typed username, and keeps no typed text.
    attempt = AccessAttempt.objects.get()
    assert attempt.username == typed_username_hash("police_admin") and "police_admin" not in attempt.post_data


def every_stored_value():
    """Every text value in every table, as one string (audit trail and axes records included)."""
    values = []
    for model in apps.get_models():
        if model._meta.managed and not model._meta.proxy:
            for row in model.objects.values_list():
                values.extend(str(value) for value in row)
    return "\n".join(values)


def test_a_password_typed_as_username_is_kept_nowhere(client, agency_admin, settings):
    settings.AXES_ENABLE_ACCESS_FAILURE_LOG = True
    typed = "Tr0ub4dor and 3 more words"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("web:login"), {"username": typed, "password": "anything at all"})
    locked = client.post(reverse("web:login"), {"username": typed, "password": "anything at all"})
    assert locked.status_code == 429
    failed = AuditEvent.objects.filter(action=AuditEvent.Action.SIGN_IN_FAILED)
    assert failed.count() == settings.AXES_FAILURE_LIMIT + 1  # the refused one too
    assert failed.first().detail == {"username_hash": typed_username_hash(typed), "known_account": False}
    assert AccessFailureLog.objects.filter(username=typed_username_hash(typed)).count() > 0
    assert AccessAttempt.objects.get().username == typed_username_hash(typed)
    stored = every_stored_value()
    assert typed not in stored and "Tr0ub4dor" not in stored


def test_successful_sign_in_keeps_the_real_username_and_clears_failures(client, agency_admin):
    password_sign_in(client, "police_admin", "not the password")
    assert AccessAttempt.objects.filter(username=typed_username_hash("police_admin")).count() == 1
    assert password_sign_in(client, "police_admin").status_code == 302
    assert AccessLog.objects.get().username == "police_admin"
    assert not AccessAttempt.objects.exists()  # reset on success finds the hashed record


def test_sessions_end_ten_hours_after_sign_in_however_active(client, agency_admin, settings):
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    sign_in(client, agency_admin)
    assert client.get("/").status_code == 200
    session = client.session
    session[SIGNED_IN_AT] = time.time() - settings.ONECASE_SESSION_ABSOLUTE_SECONDS - 1
    session.save()
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/sign-in/?expired=1"
    assert client.get("/").status_code == 302


def test_deactivation_ends_the_session_server_side(client, agency_admin):
    sign_in(client, agency_admin)
    assert client.get("/").status_code == 200
    agency_admin.is_active = False
    agency_admin.save()
    assert client.get("/").status_code == 302


def test_security_headers(client, agency_admin):
    anonymous = client.get(reverse("web:login"))
    assert "default-src 'self'" in anonymous["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in anonymous["Content-Security-Policy"]
    assert anonymous["X-Content-Type-Options"] == "nosniff"
    sign_in(client, agency_admin)
    page = client.get("/")
    assert "no-store" in page["Cache-Control"]
    assert page["X-Frame-Options"] == "DENY"


def test_production_deploy_check_passes(tmp_path):
    ignored = {"DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}  # the latter is set by the browser tests
    environment = {k: v for k, v in os.environ.items() if k not in ignored}
    environment.update(
        ONECASE_ENV="production",
        DATABASE_URL="postgres://onecase@db.example.org:5432/onecase",  # production runs on PostgreSQL; not connected
        SECRET_KEY="k3y-" + "x7Qp2Lm9" * 8,
        ALLOWED_HOSTS="onecase.example.org",
        ONECASE_DATA_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [sys.executable, "-m", "onecase.cli", "check", "--deploy", "--fail-level", "WARNING"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_the_idle_clock_moves_on_at_most_once_a_minute(client, agency_admin, settings):
    """Each request does not write the session (it would queue behind a long import on SQLite); a
    request a minute or more after the last push writes it once, moving the idle expiry on."""
    from django.contrib.sessions.models import Session

    from onecase.accounts.middleware import REFRESHED_AT

    sign_in(client, agency_admin)
    client.get("/")
    key = client.session.session_key
    first = Session.objects.get(session_key=key).expire_date
    for _ in range(3):
        assert client.get("/").status_code == 200
    assert Session.objects.get(session_key=key).expire_date == first  # no write: nothing changed
    session = client.session
    session[REFRESHED_AT] = time.time() - settings.SESSION_REFRESH_SECONDS
    session.save()
    pushed = Session.objects.get(session_key=key).expire_date
    time.sleep(1)
    assert client.get("/").status_code == 200
    later = Session.objects.get(session_key=key).expire_date
    assert later > pushed
    assert client.get("/").status_code == 200
    assert Session.objects.get(session_key=key).expire_date == later
