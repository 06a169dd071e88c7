"""The acceptance case: after import, link and the default unit costs, the talk's family ranks first."""

import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Count

from onecase.contacts.demand import demand_ranking
from onecase.contacts.models import Contact
from onecase.costs.models import UnitCost
from onecase.demo.generator import DEFAULT_END_DATE

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(tmp_path):
    call_command("demo_data", people=400, end_date=DEFAULT_END_DATE, out=tmp_path, no_progress=True,
                 stdout=io.StringIO())
    return json.loads((tmp_path / "truth_families.json").read_text())


def test_the_planted_family_ranks_first_with_exact_counts_and_cost(demo):
    family = next(f for f in demo["families"] if f["key"] == "smith")
    top = demand_ranking(None, by="household", top=10)[0]
    assert top["contacts_by_agency"] == dict(sorted(family["contacts_by_agency"].items()))
    assert top["contacts_total"] == family["contacts"]
    # cost_gbp is Σ count × unit cost over the household's contacts, to the penny.
    counts = (
        Contact.objects.filter(household_id=top["household_id"])
        .values("agency_id", "contact_type")
        .annotate(n=Count("pk"))
    )
    costs = {(u.agency_id, u.contact_type): u.unit_cost_gbp for u in UnitCost.objects.all()}
    expected = sum((row["n"] * costs.get((row["agency_id"], row["contact_type"]), Decimal(0)) for row in counts),
                   Decimal("0.00"))
    assert Decimal(top["cost_gbp"]) == expected.quantize(Decimal("0.01")) and expected > 0
