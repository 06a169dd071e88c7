"""The cost-benefit engine: the pinned chain, seven cases costed the old way and the new, and the rules of the method."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onecase.reports.cba import (
    ECONOMIC,
    FISCAL,
    OPTIMISM_BIAS_BY_GRADE,
    SOCIAL,
    BenefitLine,
    CbaInputs,
    CostLine,
    Saving,
    describe_inputs,
    evaluate,
    inputs_from_demand,
    with_changes,
)

D = Decimal


def pinned_chain(**changes) -> CbaInputs:
    """£510k gross, 40% deadweight, 30% attribution, 30% drop-off in year 2, 3.5%, against £250k."""
    inputs = CbaInputs(
        benefits=(BenefitLine(label="Demand avoided", gross_gbp=D("510000"), agency="POLICE", confidence_grade=1),),
        costs=(CostLine(label="Key workers", amount_gbp=D("250000"), agency="COUNCIL", confidence_grade=1),),
        deadweight=D("0.40"), attribution=D("0.30"), drop_off=D("0.30"), years=2, discount_rate=D("0.035"),
    )
    return with_changes(inputs, **changes) if changes else inputs


def test_the_pinned_chain_gives_a_public_value_roi_of_1_436():
    # Written out step by step:
    gross = D("510000")
    after_deadweight = gross * (1 - D("0.40"))  # 306,000: 40% would have happened anyway
    after_attribution = after_deadweight * (1 - D("0.30"))  # 214,200: 30% is owed to other services
    year_1 = after_attribution  # the present year: not discounted
    year_2 = after_attribution * (1 - D("0.30")) / D("1.035")  # 149,940 kept, discounted once: 144,869.57
    present_value = year_1 + year_2  # 359,069.57
    roi = present_value / D("250000")  # 1.43628

    assert after_deadweight == D("306000") and after_attribution == D("214200")
    assert round(year_2, 2) == D("144869.57") and round(present_value, 2) == D("359069.57")
    assert round(roi, 3) == D("1.436")

    result = evaluate(pinned_chain())
    (line,) = result["benefits"]
    assert [y["present_value"] for y in line["years"]] == [D("214200.00"), D("144869.57")]
    assert result["present_value_gbp"]["public_value"] == round(present_value, 2)
    assert result["cost_gbp"] == D("250000.00")
    assert result["public_value_roi"] == round(roi, 4) == D("1.4363")
    assert result["financial_roi"] == D("1.4363")  # all of it fiscal here
    assert result["net_present_value_gbp"] == round(present_value - D("250000"), 2)
    assert result["payback_year"] == 2  # 214,200 < 250,000 in year 1; 359,069.57 ≥ 250,000 by year 2
    assert result["who_pays"] == {"COUNCIL": D("250000.00")}
    assert result["who_saves"] == {"POLICE": {FISCAL: round(present_value, 2)}}


def test_seven_cases_337k_against_233k_save_14857_each():
    saving = Saving(before_gbp=D("337000"), after_gbp=D("233000"), cases=7)
    assert saving.total_gbp == D("104000.00")
    assert saving.per_case_gbp == D("14857")  # 104,000 ÷ 7 = 14,857.14
    assert saving.per_case_gbp * 7 <= saving.total_gbp < (saving.per_case_gbp + 1) * 7


def test_optimism_bias_lowers_benefits_and_raises_costs_by_grade():
    graded = evaluate(pinned_chain(
        benefits=(BenefitLine(label="Demand avoided", gross_gbp=D("510000"), confidence_grade=5),),
        costs=(CostLine(label="Key workers", amount_gbp=D("250000"), confidence_grade=3),),
    ))
    unadjusted = D("214200") + D("149940") / D("1.035")
    assert graded["present_value_gbp"]["fiscal"] == round(unadjusted * (1 - OPTIMISM_BIAS_BY_GRADE[5]), 2)
    assert graded["cost_gbp"] == D("250000") * (1 + OPTIMISM_BIAS_BY_GRADE[3])
    assert [OPTIMISM_BIAS_BY_GRADE[g] for g in range(1, 7)] == sorted(OPTIMISM_BIAS_BY_GRADE.values())


def test_transfer_payments_count_as_fiscal_savings_but_not_public_value():
    inputs = pinned_chain(benefits=(
        BenefitLine(label="Police demand", gross_gbp=D("100000"), agency="POLICE", cashable=True, confidence_grade=1),
        BenefitLine(label="Benefits no longer paid", gross_gbp=D("50000"), agency="DWP", transfer_payment=True,
                    confidence_grade=1),
        BenefitLine(label="Earnings", gross_gbp=D("20000"), value_type=ECONOMIC, confidence_grade=1),
        BenefitLine(label="Wellbeing", gross_gbp=D("10000"), value_type=SOCIAL, confidence_grade=1),
    ))
    result = evaluate(inputs)
    pv = result["present_value_gbp"]
    factor = (1 - D("0.4")) * (1 - D("0.3")) * (1 + (1 - D("0.3")) / D("1.035"))
    assert pv["fiscal"] == round(D("150000") * factor, 2)
    assert pv["transfer_payments"] == round(D("50000") * factor, 2)
    assert pv["public_value"] == round(D("130000") * factor, 2)  # 150k fiscal − 50k transfer + 20k + 10k
    assert pv["cashable"] == round(D("100000") * factor, 2) and pv["non_cashable"] == round(D("50000") * factor, 2)
    assert set(result["who_saves"]) == {"POLICE", "DWP", "not stated"}


def test_every_input_is_printed_in_words():
    printed = dict(describe_inputs(pinned_chain()))
    assert printed["Deadweight: the share of the change that would have happened anyway"] == "40%"
    assert printed["Discount rate per year (HM Treasury Green Book)"] == "3.5%"
    assert any(k.startswith("Optimism-bias correction, confidence grade 6") and v == "40%" for k, v in printed.items())
    assert any(k == "Cost: Key workers" and "paid by COUNCIL" in v for k, v in printed.items())
    assert not any("_" in k for k in printed)


def test_rates_outside_0_to_100_percent_are_refused():
    with pytest.raises(ValueError, match="deadweight"):
        pinned_chain(deadweight=D("1.2"))
    with pytest.raises(ValueError, match="confidence grade 7"):
        pinned_chain(costs=(CostLine(label="x", amount_gbp=D("1"), confidence_grade=7),))


def test_no_cost_gives_no_ratio_and_no_payback():
    result = evaluate(pinned_chain(costs=()))
    assert result["public_value_roi"] is None and result["payback_year"] is None


rates = st.decimals(min_value=0, max_value=1, places=2)


@given(gross=st.integers(min_value=0, max_value=10_000_000), deadweight=rates, attribution=rates, drop_off=rates,
       years=st.integers(min_value=1, max_value=10))
def test_the_chain_never_adds_value(gross, deadweight, attribution, drop_off, years):
    result = evaluate(pinned_chain(benefits=(BenefitLine(label="x", gross_gbp=D(gross), confidence_grade=1),),
                                   deadweight=deadweight, attribution=attribution, drop_off=drop_off, years=years))
    (line,) = result["benefits"]
    present = [y["present_value"] for y in line["years"]]
    assert all(b <= a for a, b in zip(present, present[1:], strict=False))  # each year worth no more than the last
    assert result["present_value_gbp"]["public_value"] <= D(gross) * years


def test_who_pays_and_who_saves_from_demand_by_agency():
    inputs = inputs_from_demand({"POLICE": D("9000"), "HOUSING": D("1000")}, {"POLICE": D("3000"), "HOUSING": D("1500")},
                                {"COUNCIL": 2}, cost_per_case_gbp=D("1800"), cashable_agencies=frozenset({"POLICE"}),
                                confidence_grade=1, deadweight=D("0"), attribution=D("0"), drop_off=D("0"), years=1)
    result = evaluate(inputs)
    # Police saves 6,000; housing's demand rose by 500 (moved, not removed); the council pays 2 × 1,800.
    assert result["who_saves"] == {"HOUSING": {FISCAL: D("-500.00")}, "POLICE": {FISCAL: D("6000.00")}}
    assert result["who_pays"] == {"COUNCIL": D("3600.00")}
    assert result["present_value_gbp"]["cashable"] == D("6000.00")
    assert result["financial_roi"] == (D("5500") / D("3600")).quantize(D("0.0001"))
    assert result["payback_year"] == 1
