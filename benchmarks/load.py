"""Signed-in users under load, against ``onecase serve`` on PostgreSQL.

    .venv/bin/python benchmarks/load.py                      # builds the demo; 1, 10 and 50 users, 20 s each
    .venv/bin/python benchmarks/load.py --acceptance         # 20 API clients for 20 s (the acceptance check)
    .venv/bin/python benchmarks/load.py --database-url postgres://postgres@127.0.0.1:5432/onecase_load \\
        --users 10 --seconds 30                              # a database built already (demo_data, demo_login)

Without ``--database-url`` it drops and recreates the database ``onecase_bench_load`` on the PostgreSQL
server at 127.0.0.1:5432 (user ``postgres``, trust authentication) and builds the demo partnership there
(``migrate``, ``demo_data --people 20000``, ``demo_login``, ``search_index``). With it, the database must
hold a partnership with the demo accounts (``onecase demo_login``); it is used as it is, except that a case
is opened on the key worker's busiest household if there is none, and an API token is made.

Then it starts ``onecase serve`` (gunicorn, DEBUG off) on a free port and signs in as ``demo-keyworker``:
for the pages over HTTP as a browser does (GET ``/sign-in/`` for the CSRF cookie, POST the username and
password, then the two-factor page with the code of the demo authenticator), for the API with a token
(``Authorization: Token ...``). Each step of ``--users`` runs that many concurrent users (threads, each
with its own keep-alive connection) for ``--seconds``, each going round the requests without pause:

* pages: the demand dashboard (``/demand/``), the busiest household's profile (its chronology's first
  page) and its chronology's second page, a person search for its busiest member, the case page;
* API: ``/api/v1/demand``, ``/api/v1/cases/<id>`` and ``/api/v1/cases/<id>/chronology``.

The page users share one signed-in session, as tabs of one browser would (the demo authenticator
refuses a code used once, so each sign-in needs a new 30-second code); every request is real, audited,
with its disclosures recorded. Prints p50, p95 and p99 per request, requests per second, errors (any
answer but 200, or no answer) and the targets: p95 under 500 ms for every request at 50 users (at demo
scale), and for ``--acceptance`` (20 API clients for 20 s on the demand ranking, a case and its
chronology) p95 under 500 ms with no errors. Exits 1 if ``--acceptance`` misses, else 0.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "onecase_bench_load"
SERVER = "postgres://postgres@127.0.0.1:5432"
USERNAME = "demo-keyworker"
TARGET_MS = 500.0
ACCEPTANCE_USERS, ACCEPTANCE_SECONDS = 20, 20
PAGES = ("demand dashboard", "household profile", "chronology page 2", "person search", "case page")
API = ("api demand", "api case", "api chronology")


# --- in the preparing process (Django set up against the database) ------------------------------


def prepare() -> dict:
    """The subjects to request (as benchmarks/pages.py finds them) and an API token for the key worker."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onecase.config.settings")
    import logging

    import django

    django.setup()
    logging.disable(logging.WARNING)
    from django.core.management import call_command

    from benchmarks.pages import _subjects
    from onecase.accounts.demo_credentials import DEFAULT_PASSWORD, PASSWORD_ENV, demo_device_key
    from onecase.accounts.models import User
    from onecase.linkage.search import search_index_refresh

    call_command("migrate", verbosity=0, interactive=False)
    search_index_refresh()
    from django.db import connection

    with connection.cursor() as cursor:
        # The state autovacuum keeps a server in: the linkage rewrites every contact, and a server with
        # autovacuum off (as some test servers are) would keep three dead rows for each live one and
        # plan the freshly built ledger as if it were empty.
        cursor.execute("VACUUM ANALYZE")
    user = User.objects.get(username=USERNAME)
    subjects = _subjects(user)
    from io import StringIO

    out = StringIO()
    call_command("create_token", USERNAME, stdout=out)
    token = out.getvalue().strip().splitlines()[-1].strip()
    return {
        **subjects,
        "token": token,
        "key": demo_device_key(),
        "password": os.environ.get(PASSWORD_ENV) or DEFAULT_PASSWORD,
    }


# --- HTTP ---------------------------------------------------------------------------------------


class Browser:
    """One keep-alive connection with a cookie jar (enough for OneCase's sign-in)."""

    def __init__(self, port: int, cookies: dict | None = None, headers: dict | None = None, keep_alive: bool = True):
        self.port = port
        self.keep_alive = keep_alive
        self.cookies = dict(cookies or {})
        self.headers = dict(headers or {})
        self.connection = None

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, bytes]:
        headers = {**self.headers, "Host": f"127.0.0.1:{self.port}"}
        if not self.keep_alive:
            headers["Connection"] = "close"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{self.port}{path}"
        for attempt in (1, 2):  # a keep-alive connection the server has closed is opened again once
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.connection.request(method, path, body=data, headers=headers)
                response = self.connection.getresponse()
                content = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        if not self.keep_alive or response.getheader("Connection", "").lower() == "close":
            self.connection.close()
            self.connection = None
        return response.status, dict(response.getheaders()), content


def _csrf(html: bytes) -> str:
    found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    if not found:
        raise SystemExit("No CSRF token on the sign-in page.")
    return found.group(1).decode()


def sign_in(port: int, password: str, key: str) -> dict:
    """Sign in as a browser does, both factors; returns the session's cookies."""
    from django_otp.oath import totp

    browser = Browser(port)
    status, _, html = browser.request("GET", "/sign-in/")
    status, headers, _ = browser.request(
        "POST", "/sign-in/", {"csrfmiddlewaretoken": _csrf(html), "username": USERNAME, "password": password}
    )
    if status != 302:
        raise SystemExit(f"Sign-in answered {status}, not a redirect: wrong password?")
    status, _, html = browser.request("GET", "/two-factor/?next=/")
    status, headers, _ = browser.request(
        "POST",
        "/two-factor/?next=/",
        {"csrfmiddlewaretoken": _csrf(html), "code": f"{totp(bytes.fromhex(key)):06d}", "next": "/"},
    )
    if status != 302:
        raise SystemExit(f"The two-factor code was refused ({status}).")
    status, _, _ = browser.request("GET", "/demand/")
    if status != 200:
        raise SystemExit(f"Signed in, but /demand/ answered {status}.")
    return browser.cookies


# --- the load ----------------------------------------------------------------------------------


def run_step(
    port: int,
    requests: list[tuple[str, str, dict]],
    users: int,
    seconds: float,
    keep_alive: bool = False,
    server: tuple[int, str] | None = None,
) -> dict:
    """``users`` threads going round ``requests`` (name, path, headers) for ``seconds``."""
    results: dict[str, list[float]] = {name: [] for name, _, _ in requests}
    errors: dict[str, int] = {name: 0 for name, _, _ in requests}
    samples: dict[str, str] = {}
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def user(n: int) -> None:
        browsers: dict[tuple, Browser] = {}
        i = n  # users start at different requests, so that every request is asked for at once
        while time.perf_counter() < stop_at:
            name, path, auth = requests[i % len(requests)]
            i += 1
            key = tuple(sorted(auth.get("headers", {}).items()))
            browser = browsers.setdefault(key, Browser(port, auth.get("cookies"), auth.get("headers"), keep_alive))
            began = time.perf_counter()
            try:
                status, _, body = browser.request("GET", path)
            except (OSError, http.client.HTTPException) as error:
                status, body = 0, str(error).encode()
                browser.connection = None
            ms = (time.perf_counter() - began) * 1000
            with lock:
                if status == 200:
                    results[name].append(ms)
                else:
                    errors[name] += 1
                    samples.setdefault(name, f"{status} {body[:200]!r}")

    pids = _server_pids(*server) if server else {}
    cpu_before = {k: _cpu_seconds(v) for k, v in pids.items()}
    client_before = time.process_time()
    began = time.perf_counter()
    threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if server:  # backends opened during the step count from their start; those closed in it are lost
        pids = {k: v | _server_pids(*server)[k] for k, v in pids.items()}
    cpu = {}
    for kind, group in pids.items():
        after = _cpu_seconds(group)
        cpu[kind] = sum(seconds - cpu_before[kind].get(pid, 0) for pid, seconds in after.items())
    cpu["load generator"] = time.process_time() - client_before
    return {"users": users, "seconds": elapsed, "ms": results, "errors": errors, "samples": samples, "cpu": cpu}


def _cpu_seconds(pids: set[int]) -> dict[int, float]:
    """{pid: CPU time (user and system) so far} of the processes ``pids`` still running."""
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def _server_pids(server_pid: int, database: str) -> dict[str, set[int]]:
    """The server's processes (gunicorn and its workers) and the PostgreSQL backends serving ``database``."""
    group = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) == server_pid:
                group.add(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    found = subprocess.run(  # noqa: S603
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-At",
            "-c",  # noqa: S607
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}' AND pid <> pg_backend_pid()",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return {"app": group, "database": {int(p) for p in found.stdout.split() if p.strip().isdigit()}}


def _rank(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)] if ordered else float("nan")


def report(step: dict, names: list[str]) -> bool:
    """Prints the step's table; True if every request's p95 is under the target with no errors."""
    total = sum(len(v) for v in step["ms"].values()) + sum(step["errors"].values())
    print(
        f"\n{step['users']} user{'s' if step['users'] != 1 else ''}, {step['seconds']:.1f} s: "  # noqa: T201
        f"{total} requests, {total / step['seconds']:.1f} per second, {sum(step['errors'].values())} errors"
    )
    print(f"  {'request':<20} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")  # noqa: T201
    met = True
    for name in names:
        times = step["ms"][name]
        p95 = _rank(times, 0.95)
        met &= bool(times) and p95 < TARGET_MS and not step["errors"][name]
        print(
            f"  {name:<20} {len(times):>6} {_rank(times, 0.5):>8.0f} {p95:>8.0f} {_rank(times, 0.99):>8.0f} "  # noqa: T201
            f"{step['errors'][name]:>7}"
        )
    if total and step.get("cpu"):
        cpu = step["cpu"]
        print(  # noqa: T201
            f"  CPU per request: {1000 * cpu.get('app', 0) / total:.0f} ms in the app, "
            f"{1000 * cpu.get('database', 0) / total:.0f} ms in PostgreSQL, "
            f"{1000 * cpu['load generator'] / total:.0f} ms in this load generator "
            f"(machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
        )
    for name, sample in step["samples"].items():
        print(f"  first error of {name}: {sample}")  # noqa: T201
    return met


# --- the server and the database ----------------------------------------------------------------


def _env(database_url: str, data_dir: Path) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ONECASE_DATA_DIR": str(data_dir),
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("ONECASE_CACHE_DIR", None)
    return env


def _onecase(env: dict, *command: str) -> None:
    onecase = str(Path(sys.executable).with_name("onecase"))
    done = subprocess.run([onecase, *command], env=env, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"onecase {' '.join(command)} failed")


def build(env: dict) -> None:
    for sql in (f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)", f"CREATE DATABASE {SCRATCH_DB}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", sql], check=True)  # noqa: S603, S607
    for command in (
        ["migrate", "--no-input", "-v0"],
        ["demo_data", "--no-progress", "-v0"],
        ["demo_login", "-v0"],
        ["search_index", "-v0"],
    ):
        _onecase(env, *command)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(env: dict, port: int, workers: int | None, threads: int | None, log: Path) -> subprocess.Popen:
    onecase = str(Path(sys.executable).with_name("onecase"))
    command = [onecase, "serve", "--bind", f"127.0.0.1:{port}", "--access-log", "/dev/null"]
    if workers:
        command += ["--workers", str(workers)]
    if threads:
        command += ["--threads", str(threads)]
    server = subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,  # noqa: S603
        start_new_session=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"onecase serve stopped: see {log}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/sign-in/")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.5)
    raise SystemExit("onecase serve did not answer within 2 minutes")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help=f"A built partnership (default: build {SCRATCH_DB} afresh).")
    parser.add_argument("--users", default="1,10,50", help="Concurrent users of each step (default 1,10,50).")
    parser.add_argument("--seconds", type=float, default=20, help="Length of each step (default 20).")
    parser.add_argument(
        "--acceptance",
        action="store_true",
        help=f"{ACCEPTANCE_USERS} API clients for {ACCEPTANCE_SECONDS} s on the demand ranking, "
        "a case and its chronology; p95 under 500 ms and no errors, or exit 1.",
    )
    parser.add_argument("--api-only", action="store_true", help="Only the API requests.")
    parser.add_argument("--pages-only", action="store_true", help="Only the pages.")
    parser.add_argument("--workers", type=int, help="onecase serve --workers (default: its own).")
    parser.add_argument("--threads", type=int, help="onecase serve --threads (default: its own).")
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        help="Each user keeps one connection open (default: a connection per request, as a "
        "reverse proxy in front of the server opens them).",
    )
    parser.add_argument("--warm-up", type=float, default=3, help="Seconds of load before the first step, not counted.")
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        print(json.dumps(prepare()))  # noqa: T201
        return

    data_dir = Path(tempfile.mkdtemp(prefix="onecase-load-"))
    database_url = args.database_url or f"{SERVER}/{SCRATCH_DB}"
    env = _env(database_url, data_dir)
    if not args.database_url:
        began = time.perf_counter()
        build(env)
        print(f"Demo partnership built in {SCRATCH_DB} in {time.perf_counter() - began:.0f} s (not timed below).")  # noqa: T201
    done = subprocess.run(
        [sys.executable, __file__, "--prepare"],
        env=env,
        cwd=ROOT,  # noqa: S603
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit("preparing failed")
    subjects = json.loads(done.stdout.strip().splitlines()[-1])

    port = _free_port()
    server = serve(env, port, args.workers, args.threads, data_dir / "serve.log")
    try:
        print(
            f"onecase serve on 127.0.0.1:{port} ({database_url.rsplit('/', 1)[-1]}), "  # noqa: T201
            f"as {USERNAME}: case {subjects['case']}, household {subjects['household']}"
        )
        api = {"headers": {"Authorization": f"Token {subjects['token']}", "Accept": "application/json"}}
        requests = []
        if not args.api_only and not args.acceptance:
            page = {"cookies": sign_in(port, subjects["password"], subjects["key"])}
            requests += [
                ("demand dashboard", "/demand/", page),
                ("household profile", f"/households/{subjects['household']}/", page),
                ("chronology page 2", f"/households/{subjects['household']}/?page=2", page),
                ("person search", "/people/search/?" + urlencode({"name": subjects["name"]}), page),
                ("case page", f"/cases/{subjects['case']}/", page),
            ]
        if not args.pages_only or args.acceptance:
            case = subjects["case"]
            requests += [
                ("api demand", "/api/v1/demand", api),
                ("api case", f"/api/v1/cases/{case}", api),
                ("api chronology", f"/api/v1/cases/{case}/chronology", api),
            ]
        names = [name for name, _, _ in requests]
        steps = [ACCEPTANCE_USERS] if args.acceptance else [int(n) for n in args.users.split(",")]
        seconds = ACCEPTANCE_SECONDS if args.acceptance else args.seconds
        if args.warm_up:
            run_step(port, requests, min(steps[0], 4), args.warm_up, args.keep_alive)
        database = database_url.rsplit("/", 1)[-1]
        met = {
            users: report(run_step(port, requests, users, seconds, args.keep_alive, (server.pid, database)), names)
            for users in steps
        }
    finally:
        stop(server)
    print(
        f"\nTarget: p95 under {TARGET_MS:.0f} ms for every request, and no errors"  # noqa: T201
        + (
            f" ({ACCEPTANCE_USERS} API clients for {ACCEPTANCE_SECONDS} s)."
            if args.acceptance
            else " at 50 users (demo scale)."
        )
    )
    for users, ok in met.items():
        print(f"  {users} users: {'met' if ok else 'missed'}")  # noqa: T201
    if args.acceptance and not all(met.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
