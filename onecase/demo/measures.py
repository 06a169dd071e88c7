"""The demo partnership's measures: the street-crime and deprivation files bundled with the product,
then the starter set of measures."""

from __future__ import annotations

from dataclasses import dataclass

from onecase.measures.starter import install_starter_measures
from onecase.places.services import load_bundled


@dataclass
class DemoMeasures:
    created: int
    unchanged: int
    skipped: int
    places: str  # what was loaded of the place-based data, in words


def load_demo_measures() -> DemoMeasures:
    """Load the place-based data, then define each starter measure not defined yet (running again changes nothing)."""
    places = load_bundled(actor=None)
    installed = install_starter_measures(actor=None)
    return DemoMeasures(len(installed.created), len(installed.unchanged), len(installed.skipped), places)
