"""`onecase serve`: the app under gunicorn, DEBUG off, static files from WhiteNoise, and an access log
that never holds a query string."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from onecase.web.management.commands.serve import ACCESS_LOG_FORMAT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (a local test server)
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


@pytest.fixture
def served(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DEBUG")}
    env["ONECASE_DATA_DIR"] = str(tmp_path)
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "onecase.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "2"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if process.poll() is not None:
                pytest.fail((tmp_path / "serve.log").read_text())
            time.sleep(0.3)
    yield base, tmp_path / "serve.log"
    process.terminate()
    process.wait(timeout=30)
    log.close()


def test_serve_runs_the_app_with_debug_off_and_static_files(served):
    base, log = served
    status, body = fetch(f"{base}/sign-in/")
    assert status == 200 and "Sign in" in body
    status, css = fetch(f"{base}/static/govuk/govuk-frontend.min.css")
    assert status == 200 and ".govuk-" in css
    status, body = fetch(f"{base}/no-such-page/")
    assert status == 404
    assert "Traceback" not in body and "DEBUG = True" not in body  # the service's own page, not Django's
    fetch(f"{base}/sign-in/?next=/people/search/%3Fname%3DJane%2BSecret")
    time.sleep(0.5)
    written = log.read_text()
    assert "Serving OneCase on" in written and "DEBUG off" in written
    assert '"GET /sign-in/" 200' in written
    assert "Secret" not in written and "?" not in written.split("DEBUG off")[1]


def test_the_access_log_never_takes_the_query_string():
    assert "%(U)s" in ACCESS_LOG_FORMAT
    for query_bearing in ("%(r)s", "%(q)s", "%({"):
        assert query_bearing not in ACCESS_LOG_FORMAT


def test_serve_refuses_a_bad_bind():
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "onecase.cli", "serve", "--bind", "nowhere", "--no-collectstatic"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "--bind must be HOST:PORT" in result.stderr
    assert "Traceback" not in result.stderr
