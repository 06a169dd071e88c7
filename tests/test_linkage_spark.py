"""The Spark path (ADR 0004): the same partnership links to the same people on Spark as on DuckDB.

Runs only where pyspark and Java are installed (CI installs both: `.ci/run`, the `spark` extra).
"""

import logging
import os
import shutil

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

pyspark = pytest.importorskip("pyspark")
if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
    pytest.skip("Spark needs Java (openjdk-17-jre-headless)", allow_module_level=True)

from onecase.linkage.engine import DuckDBEngine, SparkEngine, spark_session  # noqa: E402
from onecase.linkage.metrics import bcubed  # noqa: E402
from onecase.linkage.models import LinkRequest  # noqa: E402
from onecase.linkage.services import link_run  # noqa: E402
from onecase.linkage.synthetic import Generator, load  # noqa: E402
from onecase.people.models import PersonLink  # noqa: E402

pytestmark = pytest.mark.django_db

# Small work: two local cores, few partitions, no web UI. Most of the time is Spark's per-job overhead.
LOCAL = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.sql.adaptive.enabled": "false",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    session = spark_session("local[2]", checkpoint_dir=str(tmp_path_factory.mktemp("checkpoints")), conf=LOCAL)
    yield session
    session.stop()
    # py4j says goodbye from a finaliser, after pytest has closed the streams it logs to.
    logging.getLogger("py4j").setLevel(logging.WARNING)


def _links() -> dict[int, int]:
    return dict(PersonLink.objects.filter(undone_at__isnull=True).values_list("agency_person_id", "person_id"))


def _partition(links: dict[int, int]) -> set[frozenset[int]]:
    """The agency people grouped by the person they link to: the clusters, whatever the person ids."""
    groups: dict[int, set[int]] = {}
    for agency_person, person in links.items():
        groups.setdefault(person, set()).add(agency_person)
    return {frozenset(members) for members in groups.values()}


def _linked_and_undone(engine):
    """Link every agency person with ``engine``, note the links, then roll the run back."""
    with transaction.atomic():
        run = link_run(actor=None, engine=engine)
        links = _links()
        transaction.set_rollback(True)
    return run, links


def test_a_partnership_links_to_the_same_people_on_spark_as_on_duckdb(spark, settings):
    # Trained, not the priors: both engines estimate the model (u by sampling, m by EM), then score and cluster.
    settings.ONECASE_LINKAGE = {"min_training_records": 250}
    with transaction.atomic():
        truth = load(Generator(8).generate(300).records)
    assert len(truth) >= 250
    duck_run, on_duckdb = _linked_and_undone(DuckDBEngine())
    spark_run, on_spark = _linked_and_undone(SparkEngine(spark))

    assert (duck_run.engine, spark_run.engine) == ("duckdb", "spark")
    assert duck_run.trained and spark_run.trained
    assert set(on_spark) == set(on_duckdb) == set(truth)
    assert spark_run.pairs == duck_run.pairs
    # The same clusters exactly: the engines run the same comparisons, and the few floating-point
    # differences in the estimates move no pair across a threshold at this size.
    assert _partition(on_spark) == _partition(on_duckdb)
    assert 1 < len(_partition(on_spark)) < len(truth)

    score = bcubed(on_spark, {k: v[0] for k, v in truth.items()})
    assert score.precision > 0.95 and score.recall > 0.85


def test_the_link_command_runs_on_spark(spark, settings):
    # Below the training size the expert priors score the pairs: the command's path, quickly.
    settings.ONECASE_LINKAGE = {"min_training_records": 1000}
    with transaction.atomic():
        truth = load(Generator(3).generate(60).records)
    with pytest.raises(CommandError, match="KEY=VALUE"):
        call_command("link", "--engine", "spark", "--spark-conf", "spark.executor.memory", "--no-progress")

    # A link waiting after an upload is taken by this run, as `onecase link` on DuckDB takes it: one
    # link at a time, whatever the engine.
    waiting = LinkRequest.objects.create(reason="an upload")
    call_command("link", "--engine", "spark", "--spark-master", "local[2]", "--no-progress", verbosity=0)
    waiting.refresh_from_db()
    assert waiting.status == LinkRequest.Status.FINISHED and waiting.run.engine == "spark"
    assert set(_links()) == set(truth)
    score = bcubed(_links(), {k: v[0] for k, v in truth.items()})
    assert score.precision > 0.9 and score.recall > 0.8
    # The command left the session it found running.
    assert spark.sparkContext._jsc is not None
