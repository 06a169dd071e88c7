"""The starter set: about 35 measures across the three tiers, for a partnership whose agencies and
contact types follow the demo partnership's. Partnership administrators change them afterwards;
installing again adds only what is missing and changes nothing already there."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from onecase.accounts.models import Agency
from onecase.contacts.models import NeedCategory
from onecase.measures.models import Measure
from onecase.measures.services import measure_create


@dataclass(frozen=True)
class Starter:
    slug: str
    tier: int
    name: str
    description: str
    owner: str | None = None
    agencies: tuple[str, ...] = ()
    contact_types: tuple[str, ...] = ()
    need_categories: tuple[str, ...] = ()
    demand_class: str = ""
    statistic: str = "contacts"
    series_name: str = ""

    @property
    def source(self) -> str:
        return "police" if self.series_name else "ledger"


def _need(slug: str, code: str, name: str, why: str) -> Starter:
    return Starter(
        slug,
        1,
        f"Contacts about {name.lower()}",
        f"Contacts with any agency placed in the need category {name.lower()}. {why}",
        need_categories=(code,),
    )


def _one(slug: str, tier: int, name: str, description: str, agency: str, *types: str) -> Starter:
    return Starter(slug, tier, name, description, owner=agency, agencies=(agency,), contact_types=types)


def _street(series: str, name: str, description: str) -> Starter:
    """A street-crime measure, known by its series' own name (police_street_...)."""
    return Starter(
        series,
        3,
        name,
        description + " Published each month by the police (data.police.uk).",
        owner="POLICE",
        series_name=series,
    )


STARTERS: tuple[Starter, ...] = (
    # Tier 1: the citizen's perspective.
    Starter(
        "contacts-all",
        1,
        "Contacts with any agency",
        "Every contact a citizen had with any agency in the partnership: the whole of the demand.",
    ),
    Starter(
        "failure-demand-all",
        1,
        "Failure demand",
        "Contacts that came back because something was not done, or not done right, the first time "
        "(a repeat about the same need within the repeat window).",
        demand_class="failure",
    ),
    Starter(
        "value-demand-all",
        1,
        "Value demand",
        "Contacts that asked for something new: the demand the partnership exists to meet.",
        demand_class="value",
    ),
    Starter(
        "households-in-contact",
        1,
        "Households in contact with an agency",
        "How many different households had at least one contact with any agency.",
        statistic="households",
    ),
    Starter(
        "failure-demand-households",
        1,
        "Households making failure demand",
        "How many different households came back about something not sorted the first time.",
        demand_class="failure",
        statistic="households",
    ),
    Starter(
        "failure-demand-police",
        1,
        "Failure demand at the police",
        "Repeat contacts with the police about a need already raised.",
        owner="POLICE",
        agencies=("POLICE",),
        demand_class="failure",
    ),
    Starter(
        "failure-demand-housing",
        1,
        "Failure demand at housing services",
        "Repeat contacts with the council's housing services about a need already raised.",
        owner="HOUSING",
        agencies=("HOUSING",),
        demand_class="failure",
    ),
    _need("need-finances", "finances", "Financial stability", "Debt, arrears, benefits, food and fuel poverty."),
    _need("need-housing", "housing", "Secure housing", "Homelessness, tenancy problems, repairs and overcrowding."),
    _need(
        "need-crime-asb", "crime_asb", "Crime and anti-social behaviour", "Offending, victims and neighbour disputes."
    ),
    _need(
        "need-domestic-abuse", "domestic_abuse", "Safety from domestic abuse", "Abuse by a partner or a family member."
    ),
    _need("need-health", "health", "Mental and physical health", "Illness, injury and mental health."),
    _need(
        "need-childrens-safety", "childrens_safety", "Children's safety", "Neglect, exploitation and missing children."
    ),
    # Tier 2: the front doors, whose rises come before later demand.
    _one(
        "rent-arrears",
        2,
        "Rent arrears contacts",
        "Contacts with council tenants about rent they owe. Arrears come before evictions, and often before "
        "other demand.",
        "HOUSING",
        "rent_arrears_contact",
    ),
    _one(
        "council-tax-arrears",
        2,
        "Council tax arrears",
        "Contacts about council tax owed: an early sign of money trouble in a household.",
        "REVBEN",
        "council_tax_arrears",
    ),
    _one(
        "benefit-claims",
        2,
        "Benefit claims",
        "Claims for council tax reduction and other help with money, assessed by revenues and benefits.",
        "REVBEN",
        "benefit_claim",
    ),
    _one(
        "food-parcels",
        2,
        "Food parcels given",
        "Food parcels given by the food bank: households that cannot afford to eat.",
        "FOODBANK",
        "parcel",
    ),
    _one(
        "advice-sessions",
        2,
        "Advice sessions",
        "Sessions with Citizens Advice about debt, benefits, housing and work.",
        "CAB",
        "advice_session",
    ),
    _one(
        "homelessness-applications",
        2,
        "Homelessness applications",
        "People asking the council for help because they are homeless or about to be.",
        "HOUSING",
        "homelessness_application",
    ),
    _one(
        "repair-requests",
        2,
        "Housing repair requests",
        "Repairs reported by council tenants; damp and disrepair come before ill health.",
        "HOUSING",
        "repair_request",
    ),
    _one(
        "school-attendance-concerns",
        2,
        "School attendance concerns",
        "Children whose school attendance worried the education welfare service.",
        "EWS",
        "attendance_concern",
    ),
    # Tier 3: multi-agency measures watched over time.
    Starter(
        "asb-reports",
        3,
        "Anti-social behaviour reports",
        "Anti-social behaviour reported to the police or complained of to housing services.",
        agencies=("POLICE", "HOUSING"),
        contact_types=("asb_report", "asb_complaint"),
    ),
    _one(
        "police-incidents",
        3,
        "Police incidents",
        "Incidents the police attended or dealt with by phone.",
        "POLICE",
        "incident",
    ),
    _one(
        "domestic-abuse-incidents",
        3,
        "Domestic abuse incidents",
        "Domestic abuse incidents recorded by the police.",
        "POLICE",
        "domestic_abuse_incident",
    ),
    _one("arrests", 3, "Arrests", "People arrested by the police.", "POLICE", "arrest"),
    _one(
        "missing-persons",
        3,
        "Missing persons",
        "People reported missing to the police, most of them children.",
        "POLICE",
        "missing_person",
    ),
    _one(
        "deliberate-fires",
        3,
        "Deliberate fires",
        "Fires started on purpose that the fire service attended.",
        "FIRE",
        "deliberate_fire",
    ),
    _one(
        "dwelling-fires",
        3,
        "Accidental fires in homes",
        "Accidental fires in people's homes.",
        "FIRE",
        "accidental_dwelling_fire",
    ),
    _one(
        "ambulance-callouts",
        3,
        "Ambulance call-outs",
        "Ambulances sent to people, whether or not they were taken to hospital.",
        "AMBULANCE",
        "callout",
        "conveyance",
    ),
    _one(
        "emergency-attendances",
        3,
        "Emergency department attendances",
        "Visits to the hospital's emergency department.",
        "ED",
        "attendance",
    ),
    _one(
        "childrens-social-care-referrals",
        3,
        "Referrals to children's social care",
        "Referrals accepted by children's social care for a social worker to look into.",
        "CSC",
        "referral",
    ),
    _one(
        "adult-social-care-contacts",
        3,
        "Contacts with adult social care",
        "Concerns and requests for help made to adult social care.",
        "ASC",
        "contact",
    ),
    _street(
        "police_street_all",
        "Street crime, every type",
        "Every crime and anti-social behaviour incident recorded on the street-level crime map.",
    ),
    _street(
        "police_street_anti_social_behaviour",
        "Street crime: anti-social behaviour",
        "Anti-social behaviour incidents on the street-level crime map.",
    ),
    _street(
        "police_street_violence_and_sexual_offences",
        "Street crime: violence and sexual offences",
        "Violent and sexual offences on the street-level crime map.",
    ),
    _street(
        "police_street_other_theft",
        "Street crime: other theft",
        "Thefts other than shoplifting, burglary, bicycle and vehicle crime, on the street-level crime map.",
    ),
    _street(
        "police_street_shoplifting",
        "Street crime: shoplifting",
        "Shoplifting recorded on the street-level crime map.",
    ),
)


@dataclass
class Installed:
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # naming an agency or need category the partnership lacks


@transaction.atomic
def install_starter_measures(*, actor=None) -> Installed:
    """Define each starter measure the partnership lacks; one already defined (perhaps changed since) is
    left as it is, so installing again changes nothing. A measure naming an agency or need category the
    partnership does not have is skipped."""
    result = Installed()
    existing = set(Measure.objects.values_list("slug", flat=True))
    agencies = set(Agency.objects.values_list("code", flat=True))
    categories = set(NeedCategory.objects.values_list("code", flat=True))
    for starter in STARTERS:
        if starter.slug in existing:
            result.unchanged.append(starter.slug)
            continue
        needed = {*starter.agencies, *([starter.owner] if starter.owner else [])}
        if needed - agencies or set(starter.need_categories) - categories:
            result.skipped.append(starter.slug)
            continue
        measure_create(
            actor=actor,
            slug=starter.slug,
            name=starter.name,
            description=starter.description,
            tier=starter.tier,
            owner=starter.owner,
            source=starter.source,
            statistic=starter.statistic,
            agencies=list(starter.agencies),
            contact_types=list(starter.contact_types),
            need_categories=list(starter.need_categories),
            demand_class=starter.demand_class,
            series_name=starter.series_name,
        )
        result.created.append(starter.slug)
    return result
