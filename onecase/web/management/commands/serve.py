"""``onecase serve``: the app under gunicorn, as a deployment runs it."""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

# The access log names the method, the path without its query string (a search's query would be
# personal data), the status, the size and the time taken: never who or what was asked for.
ACCESS_LOG_FORMAT = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


def default_workers() -> int:
    """One worker process per core, plus one: each runs several threads (requests wait mostly on the database)."""
    return (os.cpu_count() or 1) + 1


class Command(BaseCommand):
    help = (
        "Serve OneCase with gunicorn: DEBUG off, static files served by WhiteNoise. Run `onecase qcluster` "
        "beside it for background jobs (imports, linkage). docs/deploy.md has the whole recipe."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8000", help="HOST:PORT to listen on (default 127.0.0.1:8000).")
        parser.add_argument("--workers", type=int, default=default_workers(),
                            help="Worker processes (default: cores + 1).")
        parser.add_argument("--threads", type=int, default=4, help="Threads per worker (default 4).")
        parser.add_argument("--timeout", type=int, default=120, help="Seconds before a stuck worker is restarted.")
        parser.add_argument("--no-collectstatic", action="store_true",
                            help="Do not collect the static files first (they are already collected).")
        parser.add_argument("--access-log", default="-", help="Where the access log goes (default: standard output).")

    def handle(self, *args, bind, workers, threads, timeout, no_collectstatic, access_log, **options):
        if workers < 1 or threads < 1:
            raise CommandError("--workers and --threads must be 1 or more.")
        host, _, port = bind.rpartition(":")
        if not host or not port.isdigit():
            raise CommandError(f"--bind must be HOST:PORT, for example 127.0.0.1:8000 (not {bind!r}).")
        if not no_collectstatic:
            call_command("collectstatic", interactive=False, verbosity=0)
        # Each thread keeps its database connection for a minute (unless DB_CONN_MAX_AGE says otherwise):
        # opening one per request cost PostgreSQL a new backend process every time.
        env = {"DB_CONN_MAX_AGE": "60", **os.environ, "DEBUG": "0", "DJANGO_SETTINGS_MODULE": "onecase.config.settings"}
        database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        self.stdout.write(
            f"Serving OneCase on http://{bind}/ with {workers} worker{'s' if workers != 1 else ''} of {threads} "
            f"thread{'s' if threads != 1 else ''} ({database}, DEBUG off). Press Ctrl+C to stop."
        )
        self.stdout.flush()
        argv = [
            sys.executable, "-m", "gunicorn", "onecase.config.wsgi:application",
            "--bind", bind, "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
            "--timeout", str(timeout), "--graceful-timeout", "30", "--access-logfile", access_log,
            "--access-logformat", ACCESS_LOG_FORMAT, "--error-logfile", "-", "--forwarded-allow-ips", "127.0.0.1",
        ]
        # gunicorn takes over this process (no shell; a fixed argument list), so signals reach it directly.
        os.execve(sys.executable, argv, env)  # noqa: S606  # nosec B606
