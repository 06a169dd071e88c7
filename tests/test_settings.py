"""Settings come from the environment; production refuses to start without its secrets."""

import os
import subprocess
import sys

import pytest

# Production runs on PostgreSQL; `check` without --database never connects to it.
POSTGRES = "postgres://onecase@db.example.org:5432/onecase"
PRODUCTION = {"ONECASE_ENV": "production", "SECRET_KEY": "k3y-" + "x7Qp2Lm9" * 8, "ALLOWED_HOSTS": "onecase.example.org"}
IGNORED = {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "ONECASE_ALLOW_SQLITE_IN_PRODUCTION", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def run_check(tmp_path, *args, **env):
    environment = {k: v for k, v in os.environ.items() if k not in IGNORED}
    environment.update(ONECASE_DATA_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-m", "onecase.cli", "check", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_secrets(tmp_path, missing):
    env = {"ONECASE_ENV": "production", "SECRET_KEY": "s" * 50, "ALLOWED_HOSTS": "onecase.example.gov.uk",
           "DATABASE_URL": POSTGRES}
    del env[missing]
    result = run_check(tmp_path, **env)
    assert result.returncode != 0
    assert f"{missing} must be set when ONECASE_ENV=production" in result.stderr


def test_production_starts_with_secrets(tmp_path):
    result = run_check(
        tmp_path, ONECASE_ENV="production", SECRET_KEY="s" * 50, ALLOWED_HOSTS="onecase.example.gov.uk",
        DATABASE_URL=POSTGRES,
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_on_sqlite(tmp_path):
    result = run_check(tmp_path, **PRODUCTION)
    assert result.returncode != 0
    assert "ImproperlyConfigured: ONECASE_ENV=production needs PostgreSQL: set DATABASE_URL" in result.stderr
    assert "ONECASE_ALLOW_SQLITE_IN_PRODUCTION=1" in result.stderr


def test_production_on_sqlite_when_allowed_warns_that_the_audit_trail_can_be_changed(tmp_path):
    result = run_check(tmp_path, "--deploy", "--fail-level", "WARNING", ONECASE_ALLOW_SQLITE_IN_PRODUCTION="1",
                       **PRODUCTION)
    assert result.returncode != 0
    assert "onecase.W001" in result.stderr
    assert "anyone who can write the file can drop the triggers" in result.stderr
    # The same deployment on PostgreSQL passes the deploy checks at the same level.
    assert run_check(tmp_path, "--deploy", "--fail-level", "WARNING", DATABASE_URL=POSTGRES,
                     **PRODUCTION).returncode == 0


def test_local_default_is_sqlite_in_the_data_directory(tmp_path):
    code = "from django.conf import settings; print(settings.DATABASES['default']['NAME'])"
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment.update(ONECASE_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="onecase.config.settings")
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == str(tmp_path / "onecase.sqlite3")
