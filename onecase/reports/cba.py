"""The cost-benefit engine: HM Treasury / GMCA local-partnership CBA, as pure functions.

The method (docs/impact-method.md) takes each benefit line's gross yearly value and applies, in order:

1. engagement and success: gross × engagement rate × success rate;
2. deadweight: × (1 − deadweight), what would have happened anyway;
3. attribution: × (1 − attribution), the share of the change owed to other services' work;
4. drop-off: year t (t = 1, 2, …) keeps (1 − drop-off)^(t − 1) of year 1;
5. optimism bias: benefits × (1 − correction), costs × (1 + correction), the correction set by the
   figure's data confidence grade (GMCA grades 1 to 6);
6. discounting: year t is divided by (1 + rate)^(t − 1): year 1 is the present year (the Green
   Book's year 0), so the first year is not discounted.

Public value is fiscal (less transfer payments) + economic + social. Financial ROI is the present
value of fiscal benefits (transfer payments included: they are savings to a budget) over the present
value of costs; public-value ROI is public value over costs; NPV is public value less costs; the
payback year is the first year in which cumulative discounted fiscal benefits reach cumulative
discounted costs.

Every input is a field of ``CbaInputs`` with its default; ``describe_inputs`` lists them in words
for a report to print. Nothing here reads the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import ROUND_HALF_UP, Decimal

PENNY = Decimal("0.01")
FISCAL, ECONOMIC, SOCIAL = "fiscal", "economic", "social"
VALUE_TYPES = (FISCAL, ECONOMIC, SOCIAL)

# GMCA's data confidence grades and their optimism-bias corrections (docs/impact-method.md):
# 1 independently audited data, under a year old … 6 expert judgement with no evidence.
OPTIMISM_BIAS_BY_GRADE: Mapping[int, Decimal] = {
    1: Decimal("0.00"),
    2: Decimal("0.05"),
    3: Decimal("0.10"),
    4: Decimal("0.15"),
    5: Decimal("0.25"),
    6: Decimal("0.40"),
}
GRADE_MEANINGS: Mapping[int, str] = {
    1: "independently audited cost data, or outcome data from a rigorous evaluation, less than a year old",
    2: "data from a reputable local or national source, 1 to 2 years old",
    3: "data from a reputable local or national source, 2 to 3 years old, or a validated business case",
    4: "estimates from local or national data more than 3 years old, or from formal surveys",
    5: "estimates from expert judgement or practice elsewhere, with limited evidence",
    6: "estimates from expert judgement with no previous experience or evidence",
}


@dataclass(frozen=True)
class BenefitLine:
    """A yearly change in demand or outcome that the intervention brings about, for the whole cohort.

    ``gross_gbp`` is the year-1 value before any adjustment; ``agency`` is who saves.
    """

    label: str
    gross_gbp: Decimal
    value_type: str = FISCAL
    agency: str = ""
    cashable: bool = False
    transfer_payment: bool = False
    confidence_grade: int = 2


@dataclass(frozen=True)
class CostLine:
    """What the intervention costs, and which agency pays; ``year`` 1 is the present year."""

    label: str
    amount_gbp: Decimal
    agency: str = ""
    year: int = 1
    confidence_grade: int = 1


@dataclass(frozen=True)
class CbaInputs:
    """Every input of a savings report, with its default. ``describe_inputs`` prints them."""

    benefits: tuple[BenefitLine, ...] = ()
    costs: tuple[CostLine, ...] = ()
    engagement_rate: Decimal = Decimal("1")  # share of the cohort who engage
    success_rate: Decimal = Decimal("1")  # share of those engaged whose outcome is achieved
    deadweight: Decimal = Decimal("0.40")  # share that would have happened anyway
    attribution: Decimal = Decimal("0.30")  # share of the change owed to other services' work
    drop_off: Decimal = Decimal("0.30")  # share of the benefit lost each year after the first
    years: int = 2  # years of benefit counted
    discount_rate: Decimal = Decimal("0.035")  # HM Treasury Green Book social time preference rate
    optimism_bias: Mapping[int, Decimal] = field(default_factory=lambda: dict(OPTIMISM_BIAS_BY_GRADE))

    def __post_init__(self):
        for name in ("engagement_rate", "success_rate", "deadweight", "attribution", "drop_off"):
            value = Decimal(getattr(self, name))
            if not Decimal(0) <= value <= Decimal(1):
                raise ValueError(f"{name.replace('_', ' ')} must be between 0% and 100%")
            object.__setattr__(self, name, value)
        if self.years < 1:
            raise ValueError("at least one year of benefit is needed")
        for line in (*self.benefits, *self.costs):
            if line.confidence_grade not in self.optimism_bias:
                raise ValueError(f"confidence grade {line.confidence_grade} is not one of {sorted(self.optimism_bias)}")
        for line in self.benefits:
            if line.value_type not in VALUE_TYPES:
                raise ValueError(f"value type must be one of {', '.join(VALUE_TYPES)}")


INPUT_WORDS = {
    "engagement_rate": "Engagement rate: the share of the cohort who take part",
    "success_rate": "Success rate: the share of those taking part whose outcome is achieved",
    "deadweight": "Deadweight: the share of the change that would have happened anyway",
    "attribution": "Attribution: the share of the change owed to other services' work",
    "drop_off": "Drop-off: the share of the benefit lost each year after the first",
    "years": "Years of benefit counted",
    "discount_rate": "Discount rate per year (HM Treasury Green Book)",
    "optimism_bias": "Optimism-bias correction by data confidence grade",
}


def _percent(value: Decimal) -> str:
    return f"{(Decimal(value) * 100).normalize():f}%"


def _pounds(value) -> str:
    """"£1,234.50", or "−£32.77" for a negative amount (demand that moved to an agency)."""
    return f"{'−' if value < 0 else ''}£{abs(Decimal(value)):,.2f}"


def describe_inputs(inputs: CbaInputs) -> list[tuple[str, str]]:
    """(what, value) for every input and assumption, in words, for a report to print."""
    lines = []
    for item in fields(inputs):
        value = getattr(inputs, item.name)
        if item.name in ("benefits", "costs"):
            continue
        if item.name == "years":
            lines.append((INPUT_WORDS[item.name], str(value)))
        elif item.name == "optimism_bias":
            for grade, correction in sorted(value.items()):
                lines.append((f"Optimism-bias correction, confidence grade {grade} "
                              f"({GRADE_MEANINGS.get(grade, 'set for this report')})", _percent(correction)))
        else:
            lines.append((INPUT_WORDS[item.name], _percent(value)))
    for line in inputs.benefits:
        lines.append((f"Benefit: {line.label}", f"{_pounds(line.gross_gbp)} a year, {line.value_type}, "
                      f"{'cashable' if line.cashable else 'non-cashable'}"
                      f"{', transfer payment' if line.transfer_payment else ''}, "
                      f"saved by {line.agency or 'not stated'}, confidence grade {line.confidence_grade}"))
    for line in inputs.costs:
        lines.append((f"Cost: {line.label}", f"{_pounds(line.amount_gbp)} in year {line.year}, paid by "
                      f"{line.agency or 'not stated'}, confidence grade {line.confidence_grade}"))
    return lines


def money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(PENNY, rounding=ROUND_HALF_UP)


def discount_factor(year: int, rate: Decimal) -> Decimal:
    """1 / (1 + rate)^(year − 1): year 1 is the present year."""
    return 1 / (1 + Decimal(rate)) ** (year - 1)


def benefit_profile(line: BenefitLine, inputs: CbaInputs) -> list[dict]:
    """Year by year, each step of the chain for one benefit line (unrounded)."""
    engaged = Decimal(line.gross_gbp) * inputs.engagement_rate * inputs.success_rate
    net = engaged * (1 - inputs.deadweight) * (1 - inputs.attribution)
    correction = inputs.optimism_bias[line.confidence_grade]
    years = []
    kept = net
    for year in range(1, inputs.years + 1):
        if year > 1:
            kept *= 1 - inputs.drop_off
        corrected = kept * (1 - correction)
        factor = discount_factor(year, inputs.discount_rate)
        years.append({"year": year, "gross": Decimal(line.gross_gbp), "engaged_and_successful": engaged,
                      "net_of_deadweight_and_attribution": net, "after_drop_off": kept,
                      "after_optimism_bias": corrected, "discount_factor": factor,
                      "present_value": corrected * factor})
    return years


def cost_present_value(line: CostLine, inputs: CbaInputs) -> Decimal:
    uplift = 1 + inputs.optimism_bias[line.confidence_grade]
    return Decimal(line.amount_gbp) * uplift * discount_factor(line.year, inputs.discount_rate)


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    return None if denominator == 0 else (numerator / denominator).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def evaluate(inputs: CbaInputs) -> dict:
    """NPV, financial and public-value ROI, payback year, and who pays and who saves."""
    by_type = defaultdict(Decimal)
    by_year_fiscal = defaultdict(Decimal)
    cashable = non_cashable = transfer = Decimal(0)
    saves: dict[str, dict[str, Decimal]] = {}
    lines = []
    for line in inputs.benefits:
        profile = benefit_profile(line, inputs)
        pv = sum((y["present_value"] for y in profile), Decimal(0))
        lines.append({"label": line.label, "agency": line.agency, "value_type": line.value_type,
                      "cashable": line.cashable, "transfer_payment": line.transfer_payment,
                      "present_value_gbp": money(pv),
                      "years": [{k: (money(v) if k not in ("year", "discount_factor") else v) for k, v in y.items()}
                                for y in profile]})
        by_type[line.value_type] += pv
        if line.value_type == FISCAL:
            if line.transfer_payment:
                transfer += pv
            if line.cashable:
                cashable += pv
            else:
                non_cashable += pv
            for y in profile:
                by_year_fiscal[y["year"]] += y["present_value"]
        agency = saves.setdefault(line.agency, defaultdict(Decimal))
        agency[line.value_type] += pv
    pays: dict[str, Decimal] = defaultdict(Decimal)
    cost_by_year = defaultdict(Decimal)
    for line in inputs.costs:
        pv = cost_present_value(line, inputs)
        pays[line.agency] += pv
        cost_by_year[line.year] += pv
    cost = sum(pays.values(), Decimal(0))
    fiscal = by_type[FISCAL]
    public = fiscal - transfer + by_type[ECONOMIC] + by_type[SOCIAL]
    payback = None
    benefit_so_far = cost_so_far = Decimal(0)
    for year in range(1, max([inputs.years, *cost_by_year]) + 1):
        benefit_so_far += by_year_fiscal[year]
        cost_so_far += cost_by_year[year]
        if cost_so_far > 0 and benefit_so_far >= cost_so_far:
            payback = year
            break
    return {
        "inputs": describe_inputs(inputs),
        "benefits": lines,
        "present_value_gbp": {
            "fiscal": money(fiscal), "economic": money(by_type[ECONOMIC]), "social": money(by_type[SOCIAL]),
            "transfer_payments": money(transfer), "public_value": money(public),
            "cashable": money(cashable), "non_cashable": money(non_cashable),
        },
        "cost_gbp": money(cost),
        "net_present_value_gbp": money(public - cost),
        "financial_roi": _ratio(fiscal, cost),
        "public_value_roi": _ratio(public, cost),
        "payback_year": payback,
        "who_saves": {agency or "not stated": {k: money(v) for k, v in values.items()}
                      for agency, values in sorted(saves.items())},
        "who_pays": {agency or "not stated": money(v) for agency, v in sorted(pays.items())},
    }


@dataclass(frozen=True)
class Saving:
    before_gbp: Decimal
    after_gbp: Decimal
    cases: int

    @property
    def total_gbp(self) -> Decimal:
        return money(Decimal(self.before_gbp) - Decimal(self.after_gbp))

    @property
    def per_case_gbp(self) -> Decimal:
        """To the whole pound, as a report prints it."""
        return (self.total_gbp / self.cases).quantize(Decimal("1"), ROUND_HALF_UP)


def with_changes(inputs: CbaInputs, **changes) -> CbaInputs:
    """The inputs with some changed for one report (validated again)."""
    return replace(inputs, **changes)


# A family support worker for 60 hours at GMCA's SS18.10 rate (£30 an hour, 2013-14 prices): an
# assumption to replace with the partnership's own cost of a case.
KEY_WORKER_HOURS_PER_CASE = Decimal("60")
KEY_WORKER_HOURLY_GBP = Decimal("30.00")


def inputs_from_demand(before_by_agency: Mapping[str, Decimal], after_by_agency: Mapping[str, Decimal],
                       cases_by_key_worker_agency: Mapping[str, int], *,
                       cost_per_case_gbp: Decimal = KEY_WORKER_HOURS_PER_CASE * KEY_WORKER_HOURLY_GBP,
                       cashable_agencies: frozenset[str] = frozenset(), confidence_grade: int = 2,
                       **changes) -> CbaInputs:
    """CBA inputs from a cohort's yearly demand cost by agency before and after its cases.

    Each agency's fiscal benefit is its cost before less its cost after (negative where demand moved
    to it); each key worker's agency pays ``cost_per_case_gbp`` for each of its cases.
    ``changes`` sets any other input of ``CbaInputs``.
    """
    agencies = sorted(set(before_by_agency) | set(after_by_agency))
    benefits = tuple(
        BenefitLine(label=f"Demand on {agency}", agency=agency, value_type=FISCAL,
                    gross_gbp=Decimal(before_by_agency.get(agency, 0)) - Decimal(after_by_agency.get(agency, 0)),
                    cashable=agency in cashable_agencies, confidence_grade=confidence_grade)
        for agency in agencies
    )
    costs = tuple(
        CostLine(label=f"Key work by {agency}", agency=agency, amount_gbp=Decimal(cost_per_case_gbp) * n)
        for agency, n in sorted(cases_by_key_worker_agency.items())
    )
    return CbaInputs(benefits=benefits, costs=costs, **changes)
