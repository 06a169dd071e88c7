import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from onecase.linkage.run import STAGES
from onecase.linkage.services import link_now


class Command(BaseCommand):
    help = (
        "Link agency people to people and people to households (Splink on DuckDB). Incremental: only agency "
        "people not yet linked, or changed since; --full relinks everything. Reviewers' decisions always hold. "
        "One link at a time: a link already running (after an upload, say) is waited for."
    )

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="Retrain the model and relink every agency person.")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar.")

    def handle(self, *args, full=False, no_progress=False, verbosity=1, **options):
        bar = None
        if not no_progress and verbosity > 0:
            bar = tqdm(total=len(STAGES), desc="link", file=sys.stderr, leave=False, dynamic_ncols=True,
                       bar_format="{desc}: {n}/{total} stages |{bar}| {elapsed}")
        seen: list[str] = []

        def progress(stage: str) -> None:
            if bar is None:
                return
            name = stage.split(":", 1)[0]
            if name in STAGES and name not in seen:
                seen.append(name)
                bar.update(1)
            bar.set_description(f"link: {stage}")

        def waiting() -> None:
            self.stderr.write("Waiting for the link that is running to finish first.")

        try:
            request = link_now(reason="command line", full=full, progress=progress, waiting=waiting)
            if bar is not None:
                bar.update(len(STAGES) - bar.n)
        finally:
            if bar is not None:
                bar.close()
        if request.status != request.Status.FINISHED:
            raise CommandError(f"Not linked: {request.message}. Run `onecase link` again.", returncode=2)
        run = request.run
        self.stdout.write(
            f"Link run {run.pk} ({run.mode}{', model trained' if run.trained else ''}): "
            f"{run.records:,} agency people, {run.new_records:,} linked this run, {run.pairs:,} pairs scored; "
            f"{run.people:,} people ({run.people_created:,} new), {run.households:,} households, "
            f"{run.addresses_created:,} new addresses; {run.links_created:,} links made, {run.links_undone:,} undone; "
            f"{run.review_items:,} open review items; {run.seconds:.1f} s."
        )
