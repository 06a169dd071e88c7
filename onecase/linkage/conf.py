"""Linkage settings: ``settings.ONECASE_LINKAGE`` over these defaults.

threshold       pairs at or above this match probability link two agency people
review_low/high pairs in [review_low, review_high) go to the review queue
seed            seeds Splink's random sampling, so the same records give the same model
recall          assumed recall of the exact-agreement rules used to estimate the prior
min_training_records   below this many agency people the expert priors are used untrained
u_max_pairs / em_max_pairs   sample sizes for u (random pairs) and EM (blocked pairs)
threads / memory_limit       DuckDB resources; empty means DuckDB's own defaults
"""

from dataclasses import dataclass, fields

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS = {
    "threshold": 0.9,
    "review_low": 0.5,
    "review_high": 0.95,
    "seed": 20240601,
    "recall": 0.7,
    "min_training_records": 1000,
    "u_max_pairs": 2e6,
    "em_max_pairs": 2e6,
    "threads": None,
    "memory_limit": "",
    "review_per_record": 3,
}


@dataclass(frozen=True)
class LinkageSettings:
    threshold: float
    review_low: float
    review_high: float
    seed: int
    recall: float
    min_training_records: int
    u_max_pairs: float
    em_max_pairs: float
    threads: int | None
    memory_limit: str
    review_per_record: int

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def linkage_settings(**overrides) -> LinkageSettings:
    values = {**DEFAULTS, **getattr(settings, "ONECASE_LINKAGE", {}), **overrides}
    unknown = set(values) - set(DEFAULTS)
    if unknown:
        raise ImproperlyConfigured(f"Unknown ONECASE_LINKAGE keys: {', '.join(sorted(unknown))}")
    conf = LinkageSettings(**values)
    if not 0 < conf.review_low <= conf.threshold <= 1 or not conf.review_low <= conf.review_high <= 1:
        raise ImproperlyConfigured(
            "ONECASE_LINKAGE needs 0 < review_low <= threshold <= 1 and review_low <= review_high"
        )
    return conf
