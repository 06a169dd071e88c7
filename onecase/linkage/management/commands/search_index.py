import time

from django.core.management.base import BaseCommand

from onecase.linkage.search import search_index_rebuild, search_index_refresh


class Command(BaseCommand):
    help = ("Make the person search keys of agency people added or changed since theirs were made (the job worker "
            "does this every minute); with --all, of every agency person.")

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Make every agency person's keys again.")

    def handle(self, *args, **options):
        started = time.perf_counter()
        if options["all"]:
            search_index_rebuild()
        done = search_index_refresh()
        self.stdout.write(f"Search keys made for {done:,} agency people in {time.perf_counter() - started:.1f} s.")
