"""Quality measures for a clustering against the truth: B-cubed and pairwise precision, recall and F1."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        if self.precision + self.recall == 0:
            return 0.0
        return 2 * self.precision * self.recall / (self.precision + self.recall)

    def __str__(self) -> str:
        return f"precision {self.precision:.4f}  recall {self.recall:.4f}  F1 {self.f1:.4f}"


def _cells(predicted: Mapping[Hashable, Hashable], truth: Mapping[Hashable, Hashable]):
    keys = [k for k in truth if k in predicted]
    cell = Counter((predicted[k], truth[k]) for k in keys)
    pred = Counter(predicted[k] for k in keys)
    true = Counter(truth[k] for k in keys)
    return keys, cell, pred, true


def bcubed(predicted: Mapping[Hashable, Hashable], truth: Mapping[Hashable, Hashable]) -> Score:
    """B-cubed precision and recall: per record, how much of its cluster is right, averaged over records."""
    keys, cell, pred, true = _cells(predicted, truth)
    if not keys:
        return Score(0.0, 0.0)
    precision = sum(n * n / pred[p] for (p, _), n in cell.items()) / len(keys)
    recall = sum(n * n / true[t] for (_, t), n in cell.items()) / len(keys)
    return Score(precision, recall)


def pairwise(predicted: Mapping[Hashable, Hashable], truth: Mapping[Hashable, Hashable]) -> Score:
    """Pairwise precision and recall over all record pairs placed together."""
    _, cell, pred, true = _cells(predicted, truth)

    def pairs(counter: Counter) -> int:
        return sum(n * (n - 1) // 2 for n in counter.values())

    together = pairs(cell)
    predicted_pairs = pairs(pred)
    true_pairs = pairs(true)
    return Score(
        together / predicted_pairs if predicted_pairs else 1.0,
        together / true_pairs if true_pairs else 1.0,
    )
