"""The Spark path (ADR 0004): the same model and link run on Splink's SparkAPI. Runs only with pyspark."""

import pytest
from django.db import transaction

pyspark = pytest.importorskip("pyspark")

from onecase.linkage.engine import SparkEngine  # noqa: E402
from onecase.linkage.metrics import bcubed  # noqa: E402
from onecase.linkage.services import link_run  # noqa: E402
from onecase.linkage.synthetic import Generator, load  # noqa: E402
from onecase.people.models import PersonLink  # noqa: E402

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]").appName("onecase-linkage-test")
        .config("spark.sql.shuffle.partitions", "4").getOrCreate()
    )
    yield session
    session.stop()


def test_a_link_run_on_spark_links_like_duckdb(spark, settings, tmp_path):
    spark.sparkContext.setCheckpointDir(str(tmp_path))
    settings.ONECASE_LINKAGE = {"min_training_records": 500}
    population = Generator(8).generate(700)
    with transaction.atomic():
        truth = load(population.records)
    run = link_run(actor=None, engine=SparkEngine(spark))
    assert run.engine == "spark" and run.trained
    links = dict(PersonLink.objects.filter(undone_at__isnull=True).values_list("agency_person_id", "person_id"))
    score = bcubed(links, {k: v[0] for k, v in truth.items()})
    assert score.precision > 0.95 and score.recall > 0.85
