"""Settings come from the environment; production refuses to start without its secrets."""

import os
import subprocess
import sys

import pytest


def run_check(tmp_path, **env):
    environment = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"}}
    environment.update(ONECASE_DATA_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-m", "onecase.cli", "check"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_secrets(tmp_path, missing):
    env = {"ONECASE_ENV": "production", "SECRET_KEY": "s" * 50, "ALLOWED_HOSTS": "onecase.example.gov.uk"}
    del env[missing]
    result = run_check(tmp_path, **env)
    assert result.returncode != 0
    assert f"{missing} must be set when ONECASE_ENV=production" in result.stderr


def test_production_starts_with_secrets(tmp_path):
    result = run_check(
        tmp_path, ONECASE_ENV="production", SECRET_KEY="s" * 50, ALLOWED_HOSTS="onecase.example.gov.uk"
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


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
