import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from onecase.linkage.run import STAGES
from onecase.linkage.services import link_now


class Command(BaseCommand):
    help = (
        "Link agency people to people and people to households (Splink on DuckDB). Incremental: only agency "
        "people not yet linked, or changed since; --full relinks everything. Reviewers' decisions always hold. "
        "One link at a time: a link already running (after an upload, say) is waited for. --engine spark scores "
        "pairs on a Spark cluster (needs pyspark and Java; see docs/linkage-at-scale.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="Retrain the model and relink every agency person.")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar.")
        parser.add_argument(
            "--engine",
            choices=["duckdb", "spark"],
            default="duckdb",
            help="Where Splink trains and scores: DuckDB in this process (the default) or Spark.",
        )
        parser.add_argument(
            "--spark-master",
            default="local[*]",
            help="The Spark master URL, e.g. spark://host:7077 or yarn (default local[*]).",
        )
        parser.add_argument(
            "--spark-checkpoint-dir",
            default="var/spark-checkpoints",
            help="A directory every Spark executor can write (on a cluster: shared, e.g. hdfs://...).",
        )
        parser.add_argument(
            "--spark-conf",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="A Spark setting, e.g. spark.executor.memory=8g; may be repeated.",
        )

    def handle(self, *args, full=False, no_progress=False, verbosity=1, engine="duckdb", **options):
        spark = None
        if engine == "spark":
            spark = self._spark(options)
        bar = None
        if not no_progress and verbosity > 0:
            bar = tqdm(
                total=len(STAGES),
                desc="link",
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
                bar_format="{desc}: {n}/{total} stages |{bar}| {elapsed}",
            )
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
            engine = None
            if spark is not None:
                from onecase.linkage.engine import SparkEngine

                engine = SparkEngine(spark[0])
            # One link at a time whatever the engine: a link running elsewhere is waited for, and
            # links waiting (after an upload, say) are taken by this run.
            request = link_now(reason="command line", full=full, progress=progress, waiting=waiting, engine=engine)
            if request.status != request.Status.FINISHED:
                raise CommandError(f"Not linked: {request.message}. Run `onecase link` again.", returncode=2)
            run = request.run
            if bar is not None:
                bar.update(len(STAGES) - bar.n)
        finally:
            if bar is not None:
                bar.close()
            if spark is not None and spark[1]:
                spark[0].stop()
        self.stdout.write(
            f"Link run {run.pk} ({run.mode}{', model trained' if run.trained else ''}): "
            f"{run.records:,} agency people, {run.new_records:,} linked this run, {run.pairs:,} pairs scored; "
            f"{run.people:,} people ({run.people_created:,} new), {run.households:,} households, "
            f"{run.addresses_created:,} new addresses; {run.links_created:,} links made, {run.links_undone:,} undone; "
            f"{run.review_items:,} open review items; {run.seconds:.1f} s."
        )

    def _spark(self, options):
        """The Spark session to link on, and whether this command started it (and so stops it)."""
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:
            raise CommandError("--engine spark needs pyspark: pip install 'onecase[spark]'.") from exc
        from onecase.linkage.engine import spark_session

        conf = {}
        for item in options["spark_conf"]:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise CommandError(f"--spark-conf {item!r}: give it as KEY=VALUE.")
            conf[key.strip()] = value.strip()
        started = SparkSession.getActiveSession() is None
        checkpoints = options["spark_checkpoint_dir"]
        if "://" not in checkpoints:
            Path(checkpoints).mkdir(parents=True, exist_ok=True)
        return spark_session(options["spark_master"], checkpoint_dir=checkpoints, conf=conf), started
