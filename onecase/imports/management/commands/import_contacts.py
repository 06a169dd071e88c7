import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from onecase.imports.services import ImportRejected, import_contacts
from onecase.linkage.services import link_now


class Command(BaseCommand):
    help = (
        "Import canonical contact files (CSV or XLSX) into the demand ledger, then link the new and changed "
        "agency people to people and households. See docs/contact-format.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--agency", help="Agency code for every row (otherwise an 'agency' column is needed).")
        parser.add_argument(
            "--no-link", action="store_true",
            help="Do not link afterwards (for a bulk load of many files followed by one `onecase link`).",
        )
        parser.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar.")

    def handle(self, *args, files, agency=None, no_link=False, no_progress=False, verbosity=1, **options):
        failed = 0
        changed = False
        for path in files:
            bar = None
            if not no_progress and verbosity > 0:
                bar = tqdm(total=0, unit=" rows", desc=path, file=sys.stderr, leave=False, dynamic_ncols=True)

            def progress(done, total, bar=bar):
                if bar is not None:
                    bar.total = max(total, done)
                    bar.n = done
                    bar.refresh()

            try:
                result = import_contacts(actor=None, path=path, agency_code=agency, progress=progress)
            except ImportRejected as exc:
                report = exc.report(path)
            except OSError as exc:
                report = [f"{path}: cannot read the file ({exc.strerror or exc})."]
            else:
                report = None
            finally:
                if bar is not None:
                    bar.close()
            if report is not None:
                if len(files) == 1 and len(report) == 1:
                    raise CommandError(report[0], returncode=1)  # one file, one problem: one line
                failed += 1
                for line in report:
                    self.stderr.write(line)
                continue
            changed = changed or bool(result.created or result.updated or result.people_created)
            for code in result.agencies_created:
                self.stdout.write(f"{path}: created agency {code} (name it with the admin pages).")
            for warning in result.warnings:
                self.stdout.write(f"{path}: warning: {warning}")
            self.stdout.write(
                f"{path}: {result.rows} rows: {result.created} new, {result.updated} updated, "
                f"{result.unchanged} unchanged; {result.people_created} new agency people."
            )
        if changed and not no_link:
            self._link(show=not no_progress and verbosity > 0)
        if failed:
            raise CommandError(f"{failed} of {len(files)} file(s) rejected.", returncode=1)

    def _link(self, show: bool) -> None:
        bar = tqdm(total=None, desc="link", file=sys.stderr, leave=False, dynamic_ncols=True,
                   bar_format="{desc} {elapsed}") if show else None

        def progress(stage: str) -> None:
            if bar is not None:
                bar.set_description(f"link: {stage}")

        def waiting() -> None:
            self.stderr.write("Waiting for the link that is running to finish first.")

        try:
            request = link_now(reason="command line import", progress=progress, waiting=waiting)
        finally:
            if bar is not None:
                bar.close()
        if request.status != request.Status.FINISHED:
            raise CommandError(
                f"The contacts were imported, but not linked: {request.message}. Run `onecase link` to link them.",
                returncode=3,
            )
        run = request.run
        self.stdout.write(
            f"Linked ({run.mode}): {run.new_records:,} agency people linked, {run.people_created:,} new people, "
            f"{run.links_created:,} links made; {run.seconds:.1f} s."
        )
