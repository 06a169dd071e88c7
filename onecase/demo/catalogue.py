"""What the demo partnership contains: the need categories and the phrases citizens use for
them, the twelve agencies (what they record and how), and the planted families.

``NEED_PHRASES`` maps each presenting need phrase to its Supporting Families category; the
generator exports it with the truth (truth_needs.csv).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

# Planted "needs an owner" demand falls in this many days before the end of the window.
RECENT_DAYS = 90

# --- needs ------------------------------------------------------------------------------

NEED_CATEGORIES = (
    "finances",
    "work",
    "housing",
    "crime_asb",
    "domestic_abuse",
    "health",
    "substance_use",
    "school_attendance",
    "early_years",
    "childrens_safety",
)

# Ages of the person a contact about this need is recorded against.
NEED_AGES = {
    "finances": (0, 120),  # family-level: dependants appear on claims and vouchers
    "work": (16, 66),
    "housing": (0, 120),
    "crime_asb": (10, 120),
    "domestic_abuse": (0, 120),  # children in the household are victims too
    "health": (0, 120),
    "substance_use": (14, 120),
    "school_attendance": (5, 16),
    "early_years": (0, 4),
    "childrens_safety": (0, 17),
}
CHILD_NEEDS = frozenset({"school_attendance", "early_years", "childrens_safety"})


@dataclass(frozen=True)
class Phrase:
    """A presenting need in the citizen's own words, its category and who it is said about."""

    text: str
    need: str
    weight: float
    ages: tuple[int, int] = (0, 120)
    sex: str = ""
    at: tuple[str, ...] = ()  # the agencies it is said at (empty: any that serves the need)


# Where some phrases are plausibly said.
CLINICAL = ("AMBULANCE", "ED")
MONEY = ("HOUSING", "REVBEN", "CAB", "FOODBANK", "PROBATION")
HOME = ("HOUSING", "CAB", "FIRE")

PHRASES: tuple[Phrase, ...] = (
    Phrase("help me find a job", "work", 14, (16, 66)),
    Phrase("I've lost my job", "work", 3, (16, 66)),
    Phrase("I need help with my CV", "work", 1, (16, 66)),
    Phrase("I can't find work that fits round the kids", "work", 2, (16, 66)),
    Phrase("I can't pay my rent", "finances", 4, (0, 120), "", MONEY),
    Phrase("help me with my rent arrears", "finances", 4, (0, 120), "", MONEY),
    Phrase("I'm behind on my council tax", "finances", 3, (0, 120), "", MONEY),
    Phrase("my benefits have been stopped", "finances", 3, (0, 120), "", MONEY),
    Phrase("my Universal Credit hasn't come through", "finances", 3, (0, 120), "", MONEY),
    Phrase("I've got debts I can't pay", "finances", 2, (0, 120), "", MONEY),
    Phrase("I need food for the kids", "finances", 4, (0, 120), "", MONEY),
    Phrase("I can't afford to put the heating on", "finances", 2),
    Phrase("the electric's been cut off", "finances", 1),
    Phrase("we're going to be evicted", "housing", 3, (0, 120), "", MONEY),
    Phrase("we've got nowhere to live", "housing", 2, (0, 120), "", ("HOUSING", "CAB", "PROBATION")),
    Phrase("the damp is making the kids ill", "housing", 2, (0, 120), "", HOME),
    Phrase("my boiler's broken", "housing", 3, (0, 120), "", HOME),
    Phrase("the roof is leaking", "housing", 2, (0, 120), "", HOME),
    Phrase("there are too many of us in this flat", "housing", 1, (0, 120), "", ("HOUSING", "CAB")),
    Phrase("my smoke alarm doesn't work", "housing", 1, (0, 120), "", ("FIRE", "HOUSING")),
    Phrase("my neighbour is threatening me", "crime_asb", 4, (16, 120)),
    Phrase("kids keep throwing stones at my windows", "crime_asb", 2, (18, 120), "", ("POLICE", "HOUSING")),
    Phrase("the neighbours play loud music all night", "crime_asb", 3, (18, 120), "", ("POLICE", "HOUSING")),
    Phrase("there's drug dealing on our street", "crime_asb", 2, (16, 120)),
    Phrase("someone's broken into my house", "crime_asb", 2, (18, 120), "", ("POLICE", "HOUSING")),
    Phrase("they've set fire to the bins again", "crime_asb", 1, (0, 120), "", ("POLICE", "FIRE", "HOUSING")),
    Phrase("he's getting into trouble with the police", "crime_asb", 2, (10, 17), "M"),
    Phrase("he hit me again", "domestic_abuse", 4, (16, 120), "F"),
    Phrase("my partner hit me", "domestic_abuse", 2, (16, 120)),
    Phrase("I'm scared of my ex", "domestic_abuse", 3, (16, 120)),
    Phrase("my partner won't let me leave the house", "domestic_abuse", 2, (16, 120)),
    Phrase("he keeps turning up at the door", "domestic_abuse", 2, (16, 120), "F"),
    Phrase("the kids saw him hit me", "domestic_abuse", 3, (0, 17)),
    Phrase("I've had a fall", "health", 3, (50, 120), "", ("AMBULANCE", "ED", "ASC")),
    Phrase("I've got chest pains", "health", 2, (30, 120), "", CLINICAL),
    Phrase("I can't breathe properly", "health", 2, (0, 120), "", CLINICAL),
    Phrase("my little one has a really high temperature", "health", 2, (0, 10), "", CLINICAL),
    Phrase("I can't cope any more", "health", 2, (14, 120)),
    Phrase("mum can't manage on her own any more", "health", 2, (65, 120), "F"),
    Phrase("I've run out of my medication", "health", 1, (18, 120), "", ("AMBULANCE", "ED", "ASC")),
    Phrase("I've hurt my back", "health", 1, (18, 120), "", CLINICAL),
    Phrase("he fell off his bike", "health", 1, (4, 15), "M", CLINICAL),
    Phrase("I've cut my hand badly", "health", 1, (10, 120), "", CLINICAL),
    Phrase("I think I've broken my wrist", "health", 1, (0, 120), "", CLINICAL),
    Phrase("my asthma is really bad", "health", 1, (0, 120), "", CLINICAL),
    Phrase("I've got a terrible pain in my stomach", "health", 2, (0, 120), "", CLINICAL),
    Phrase("I've been feeling really low", "health", 1.5, (14, 120)),
    Phrase("I'm hearing voices again", "health", 1, (16, 120)),
    Phrase("nobody has seen him for days", "health", 1, (50, 120), "M", ("POLICE", "HOUSING", "ASC")),
    Phrase("I can't manage the stairs any more", "health", 2, (60, 120), "", ("ASC", "HOUSING", "FIRE")),
    Phrase("I need help getting washed and dressed", "health", 2, (60, 120), "", ("ASC",)),
    Phrase("she keeps forgetting to turn the cooker off", "health", 1, (65, 120), "F", ("ASC", "FIRE")),
    Phrase("he keeps wandering off at night", "health", 1, (65, 120), "M", ("POLICE", "ASC")),
    Phrase("I keep having fits", "health", 1, (0, 120), "", CLINICAL),
    Phrase("she's swallowed some tablets", "health", 1, (1, 120), "F", ("AMBULANCE", "ED", "POLICE")),
    Phrase("I need help to stop drinking", "substance_use", 3, (16, 120)),
    Phrase("he's drunk again", "substance_use", 3, (16, 120), "M"),
    Phrase("I want to come off the drugs", "substance_use", 2, (16, 120)),
    Phrase("he fell asleep smoking after a drink", "substance_use", 1, (18, 120), "M", ("FIRE", *CLINICAL)),
    Phrase("my son won't go to school", "school_attendance", 4, (5, 16), "M"),
    Phrase("my daughter keeps getting sent home from school", "school_attendance", 2, (5, 16), "F"),
    Phrase("she's being bullied at school", "school_attendance", 2, (5, 16), "F"),
    Phrase("he's being bullied at school", "school_attendance", 1, (5, 16), "M"),
    Phrase("I need help with the baby", "early_years", 3, (0, 4)),
    Phrase("my toddler isn't talking yet", "early_years", 2, (1, 4)),
    Phrase("I can't get any childcare", "early_years", 1, (0, 4)),
    Phrase("I'm worried about the kids next door", "childrens_safety", 2, (0, 17)),
    Phrase("my daughter keeps going missing at night", "childrens_safety", 2, (10, 17), "F"),
    Phrase("I can't control my son", "childrens_safety", 2, (10, 17), "M"),
    Phrase("the children are left on their own", "childrens_safety", 2, (0, 13)),
)
# The phrase -> need category table, exported with the truth as truth_needs.csv.
NEED_PHRASES: dict[str, str] = {p.text: p.need for p in PHRASES}
PHRASES_BY_NEED: dict[str, tuple[Phrase, ...]] = {
    need: tuple(p for p in PHRASES if p.need == need) for need in NEED_CATEGORIES
}

# --- agencies ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """A contact type at an agency, the needs it serves and how it tends to end."""

    name: str
    needs: tuple[str, ...]
    weight: float
    outcomes: tuple[str, ...]
    staff: tuple[str, ...]
    tenants_only: bool = False


@dataclass(frozen=True)
class AgencySpec:
    """One agency: who it sees, how often, and how its records are written."""

    code: str
    name: str
    sector: str
    source_system: str
    person_ref: str  # format for a running number; HOUSING uses tenancy-person refs instead
    record_id: str
    kinds: tuple[Kind, ...]
    ages: tuple[int, int] = (0, 120)
    background: tuple[tuple[str, float], ...] = ()  # need, episodes per person in two years, regardless of needs
    need_rate: float = 0.3  # episodes per household need it serves, per member, in two years
    drivers: tuple[str, ...] = ()  # needs that start episodes here (default: all it serves)
    repeat: float = 0.5  # mean follow-up contacts per episode, per vulnerability level
    gap_days: float = 14.0
    hours: str = "office"  # office | any | day | sessions
    head_only: bool = False  # household-level agency: records the householder only
    female_factor: float = 1.0
    uprn: float = 0.0  # share of its records that carry the UPRN
    nhs: float = 0.0  # share of its records that carry the NHS number
    no_dob: float = 0.03
    no_sex: float = 0.0
    nickname: float = 0.08
    upper_family: float = 0.0
    sex_codes: tuple[str, str] = ("M", "F")
    address_style: int = 0
    postcode_style: int = 0
    style_drift: float = 0.2  # share of identities written in some other address/postcode style
    duplicates: float = 0.03

    @functools.cached_property
    def needs(self) -> frozenset[str]:
        return frozenset(n for k in self.kinds for n in k.needs)


_POLICE_NEEDS = ("crime_asb", "domestic_abuse", "health", "substance_use", "childrens_safety")
_CSC_NEEDS = ("childrens_safety", "domestic_abuse", "early_years", "school_attendance", "substance_use")

AGENCIES: tuple[AgencySpec, ...] = (
    AgencySpec(
        code="POLICE", name="Midshire Police", sector="police", source_system="Niche RMS",
        person_ref="P{:07d}", record_id="INC{:08d}", ages=(10, 120), hours="any",
        kinds=(
            Kind("incident", _POLICE_NEEDS, 4,
                 ("attended, words of advice", "no further action", "crime recorded", "referred to partner agency",
                  "resolved by phone"), ("call handler", "police constable", "PCSO")),
            Kind("asb_report", ("crime_asb",), 3,
                 ("logged, patrol requested", "referred to housing", "words of advice given", "no further action"),
                 ("call handler", "PCSO")),
            Kind("domestic_abuse_incident", ("domestic_abuse",), 5,
                 ("DASH risk assessment completed", "referred to MARAC", "suspect arrested",
                  "safeguarding referral to children's social care", "no further action"),
                 ("police constable", "domestic abuse officer")),
            Kind("arrest", ("crime_asb", "substance_use", "domestic_abuse"), 1,
                 ("charged", "released under investigation", "cautioned", "no further action", "bailed"),
                 ("police constable", "custody sergeant")),
            Kind("missing_person", ("childrens_safety",), 3,
                 ("found safe", "returned home", "return interview requested", "referred to children's social care"),
                 ("police constable", "missing persons coordinator")),
        ),
        background=(("crime_asb", 0.22), ("health", 0.04)), need_rate=1.05, repeat=0.8, gap_days=10,
        nickname=0.15, upper_family=0.9, no_dob=0.04, duplicates=0.05, address_style=2,
    ),
    AgencySpec(
        code="FIRE", name="Midshire Fire and Rescue Service", sector="fire", source_system="CFRMIS",
        person_ref="F{:06d}", record_id="FRS{:07d}", ages=(18, 120), hours="day", head_only=True,
        kinds=(
            Kind("home_fire_safety_visit", ("health", "finances", "substance_use", "housing"), 6,
                 ("smoke alarms fitted", "advice given", "referred to adult social care", "no access"),
                 ("firefighter", "community safety advocate")),
            Kind("deliberate_fire", ("crime_asb",), 1,
                 ("extinguished by crew", "referred to police", "arson reduction visit booked"),
                 ("watch manager", "firefighter")),
            Kind("accidental_dwelling_fire", ("substance_use", "health", "finances"), 1,
                 ("extinguished by crew, no injuries", "fire damage to kitchen", "occupant taken to hospital"),
                 ("watch manager", "firefighter")),
        ),
        background=(("health", 0.04),), need_rate=0.22, repeat=0.1, gap_days=30,
        uprn=0.85, sex_codes=("Male", "Female"), no_dob=0.08, duplicates=0.02,
    ),
    AgencySpec(
        code="AMBULANCE", name="Midshire Ambulance Service NHS Trust", sector="health", source_system="Cleric CAD",
        person_ref="PT{:07d}", record_id="CAD{:08d}", hours="any",
        kinds=(
            Kind("callout", ("health", "substance_use", "domestic_abuse", "crime_asb"), 2,
                 ("treated at scene", "referred to GP", "advice given", "no patient found"),
                 ("paramedic", "emergency medical technician", "clinical navigator")),
            Kind("conveyance", ("health", "substance_use", "domestic_abuse"), 3,
                 ("conveyed to ED", "conveyed to ED, admitted"), ("paramedic", "emergency medical technician")),
        ),
        background=(("health", 0.18),), need_rate=0.45, repeat=0.5, gap_days=20,
        nhs=0.4, no_dob=0.05, duplicates=0.05, sex_codes=("Male", "Female"), address_style=3,
    ),
    AgencySpec(
        code="ED", name="Kilnbury Royal Infirmary Emergency Department", sector="health",
        source_system="Symphony EDIS", person_ref="RK{:07d}", record_id="ATT{:08d}", hours="any",
        kinds=(
            Kind("attendance", ("health", "substance_use", "domestic_abuse", "crime_asb"), 1,
                 ("discharged, no follow-up", "discharged to GP", "admitted", "left before being seen",
                  "referred to mental health liaison", "referred to alcohol liaison"),
                 ("triage nurse", "ED nurse", "ED doctor")),
        ),
        background=(("health", 0.5),), need_rate=0.45, repeat=0.4, gap_days=25,
        nhs=0.85, no_dob=0.01, nickname=0.05, duplicates=0.04, address_style=3,
    ),
    AgencySpec(
        code="HOUSING", name="Kilnbury City Council Housing Services", sector="council",
        source_system="Northgate Housing", person_ref="HT-{tenancy:06d}-{member:02d}", record_id="HSG{:07d}",
        ages=(18, 120),
        kinds=(
            Kind("rent_arrears_contact", ("finances", "work"), 3,
                 ("payment plan agreed", "referred to Citizens Advice", "notice of seeking possession served",
                  "referred to revenues and benefits", "no contact made"), ("income officer",), tenants_only=True),
            Kind("repair_request", ("housing",), 3,
                 ("repair raised", "appointment booked", "no access", "repair completed"),
                 ("repairs call handler",), tenants_only=True),
            Kind("asb_complaint", ("crime_asb",), 2,
                 ("diary sheets issued", "warning letter sent", "referred to police", "case closed"),
                 ("housing officer", "ASB officer"), tenants_only=True),
            Kind("tenancy_visit", ("housing", "health", "substance_use", "domestic_abuse"), 1,
                 ("visit completed", "no access", "tenancy sustainment referral"),
                 ("housing officer", "tenancy sustainment officer"), tenants_only=True),
            Kind("homelessness_application", ("housing", "domestic_abuse"), 1,
                 ("prevention duty accepted", "relief duty accepted", "temporary accommodation offered",
                  "advice only"), ("housing options officer",)),
        ),
        background=(("housing", 2.0),), need_rate=1.1, repeat=1.0, gap_days=18,
        uprn=1.0, no_dob=0.02, nickname=0.05, duplicates=0.02,
    ),
    AgencySpec(
        code="REVBEN", name="Kilnbury City Council Revenues and Benefits", sector="council",
        source_system="Civica OpenRevenues", person_ref="RB{:08d}", record_id="RV{:08d}", ages=(18, 120),
        kinds=(
            Kind("council_tax_arrears", ("finances", "work"), 3,
                 ("arrangement to pay agreed", "summons issued", "referred to enforcement agent",
                  "signposted to Citizens Advice"), ("revenues officer", "customer services adviser")),
            Kind("benefit_claim", ("finances", "work"), 2,
                 ("council tax reduction awarded", "claim assessed", "claim suspended, evidence requested",
                  "discretionary housing payment awarded"), ("benefits assessor", "customer services adviser")),
        ),
        background=(("finances", 0.2),), need_rate=0.9, repeat=0.8, gap_days=21,
        uprn=0.95, no_dob=0.02, nickname=0.03, duplicates=0.02,
    ),
    AgencySpec(
        code="CSC", name="Kilnbury Children's Social Care", sector="council", source_system="Liquidlogic LCS",
        person_ref="CS{:06d}", record_id="CSC{:07d}", ages=(0, 17),
        kinds=(
            Kind("contact", _CSC_NEEDS, 4,
                 ("no further action", "information and advice", "stepped down to early help",
                  "passed to assessment team"), ("MASH officer", "social worker")),
            Kind("referral", _CSC_NEEDS, 2,
                 ("child and family assessment", "strategy discussion", "stepped down to early help"),
                 ("social worker", "team manager")),
            Kind("assessment", _CSC_NEEDS, 1,
                 ("child in need plan", "child protection plan", "early help", "no further action"),
                 ("social worker",)),
        ),
        background=(("childrens_safety", 0.03),), need_rate=1.0, repeat=1.5, gap_days=12,
        no_dob=0.02, nickname=0.05, duplicates=0.03,
    ),
    AgencySpec(
        code="ASC", name="Kilnbury Adult Social Care", sector="council", source_system="Liquidlogic LAS",
        person_ref="AS{:06d}", record_id="ASC{:07d}", ages=(18, 120),
        kinds=(
            Kind("contact", ("health", "substance_use", "domestic_abuse"), 3,
                 ("information and advice", "safeguarding enquiry", "referred to occupational therapy",
                  "passed for assessment"), ("adult contact centre officer", "social worker")),
            Kind("assessment", ("health",), 1,
                 ("care act assessment completed", "reablement offered", "care package started"),
                 ("social worker", "occupational therapist")),
        ),
        background=(("health", 0.055),), need_rate=0.33, repeat=1.0, gap_days=20,
        no_dob=0.01, nickname=0.05, duplicates=0.03, address_style=3,
    ),
    AgencySpec(
        code="EWS", name="Kilnbury Education Welfare Service", sector="education", source_system="Capita One",
        person_ref="EW{:05d}", record_id="EWS{:06d}", ages=(5, 16),
        kinds=(
            Kind("attendance_concern", ("school_attendance",), 1,
                 ("home visit", "attendance letter sent", "parenting contract", "fixed penalty notice",
                  "attendance improved, case closed"), ("education welfare officer", "attendance officer")),
        ),
        background=(("school_attendance", 0.06),), need_rate=1.7, repeat=1.5, gap_days=14,
        no_dob=0.01, nickname=0.05, duplicates=0.02, address_style=1,
    ),
    AgencySpec(
        code="PROBATION", name="Probation Service, Kilnbury", sector="other", source_system="nDelius",
        person_ref="D{:06d}", record_id="SUP{:08d}", ages=(18, 70),
        kinds=(
            Kind("supervision_appointment", ("crime_asb", "substance_use", "work", "housing"), 1,
                 ("attended", "attended", "attended", "failed to attend", "rescheduled",
                  "referred to accredited programme", "breach action"),
                 ("probation officer", "probation services officer")),
        ),
        drivers=("crime_asb", "substance_use"), need_rate=0.24, repeat=8.0, gap_days=14, female_factor=0.25,
        no_dob=0.0, nickname=0.1, upper_family=1.0, duplicates=0.01, address_style=1,
    ),
    AgencySpec(
        code="FOODBANK", name="Kilnbury Food Bank", sector="voluntary", source_system="Food bank records",
        person_ref="FB{:05d}", record_id="V{:07d}", ages=(18, 120), hours="sessions",
        kinds=(
            Kind("parcel", ("finances", "work"), 1,
                 ("3-day parcel given", "parcel given, signposted to Citizens Advice", "parcel given, fuel voucher",
                  "parcel given"), ("volunteer", "food bank coordinator")),
        ),
        background=(("finances", 0.01),), need_rate=0.44, repeat=1.2, gap_days=10,
        no_dob=0.45, no_sex=0.3, nickname=0.4, upper_family=0.2, sex_codes=("m", "f"),
        address_style=4, postcode_style=2, style_drift=0.35, duplicates=0.06,
    ),
    AgencySpec(
        code="CAB", name="Citizens Advice Kilnbury", sector="voluntary", source_system="Casebook",
        person_ref="CA-{:06d}", record_id="ADV{:07d}", ages=(18, 120),
        kinds=(
            Kind("advice_session", ("finances", "work", "housing"), 1,
                 ("debt advice given", "benefits check completed", "Universal Credit claim helped",
                  "referred to food bank", "housing advice given", "employment rights advice given"),
                 ("adviser", "volunteer adviser", "debt caseworker")),
        ),
        background=(("finances", 0.035),), need_rate=0.36, repeat=0.8, gap_days=14,
        no_dob=0.25, no_sex=0.1, nickname=0.25, address_style=1, postcode_style=1, style_drift=0.3,
        duplicates=0.04,
    ),
)
AGENCY_BY_CODE = {a.code: a for a in AGENCIES}


# --- planted families -------------------------------------------------------------------


@dataclass(frozen=True)
class PlantedMember:
    given: str
    family: str
    sex: str
    age: int  # at the end of the window
    birthday: tuple[int, int]  # month, day


@dataclass(frozen=True)
class PlantedFamily:
    key: str
    kind: str  # revolving_door | needs_owner | asb_repeat
    description: str
    members: tuple[PlantedMember, ...]
    needs: tuple[str, ...]
    demand: tuple[tuple[str, int, tuple[float, ...]], ...] = ()  # agency, contacts, weight per member
    recent: bool = False  # all demand in the last RECENT_DAYS days
    fixed: tuple[tuple[str, int, int, str, str], ...] = ()  # agency, member, days before end, type, phrase
    overrides: tuple[tuple[str, int, dict], ...] = ()  # agency, member, identity fields as that agency has them


PLANTED: tuple[PlantedFamily, ...] = (
    PlantedFamily(
        key="smith",
        kind="revolving_door",
        description=(
            "The talk's family: two adults and three children at one council address. Money trouble and the "
            "father's drinking; police, housing and children's social care see them week in, week out, and "
            "no agency owns the case."
        ),
        members=(
            PlantedMember("Jonathan", "Smith", "M", 42, (3, 7)),
            PlantedMember("Michelle", "Smith", "F", 38, (11, 5)),
            PlantedMember("Kyle", "Smith", "M", 15, (6, 9)),
            PlantedMember("Chloe", "Smith", "F", 12, (2, 10)),
            PlantedMember("Alfie", "Smith", "M", 8, (9, 4)),
        ),
        needs=("finances", "work", "housing", "substance_use", "domestic_abuse", "crime_asb", "school_attendance",
               "childrens_safety", "health"),
        demand=(
            ("POLICE", 110, (5, 3, 1.5, 1, 0.5)),
            ("FIRE", 6, (1, 1, 1, 1, 1)),
            ("AMBULANCE", 30, (3, 2, 1, 1, 1)),
            ("ED", 36, (3, 2, 1.5, 1, 1)),
            ("HOUSING", 120, (4, 3, 1, 1, 1)),
            ("REVBEN", 40, (3, 2, 0, 0, 0)),
            ("CSC", 150, (1, 1, 3, 2.5, 2.5)),
            ("EWS", 30, (0.5, 1, 3, 1.5, 1)),
            ("PROBATION", 36, (1, 0, 0, 0, 0)),
            ("FOODBANK", 24, (2, 2, 1, 1, 1)),
            ("CAB", 12, (1, 1, 0, 0, 0)),
        ),
        overrides=(
            ("HOUSING", 0, {"given": "Jonathan", "family": "Smyth", "dob": "exact"}),
            ("FOODBANK", 0, {"given": "Jon", "family": "SMITH", "dob": "none"}),
            ("AMBULANCE", 0, {"dob": "swap"}),
            ("POLICE", 0, {"given": "John", "family": "SMITH", "duplicate": True}),
            ("ED", 1, {"given": "Shell"}),
            ("FOODBANK", 1, {"family": "Smyth", "dob": "none"}),
            ("CAB", 1, {"family": "Smithe"}),
            ("POLICE", 2, {"family": "SMYTH", "dob": "year"}),
            ("AMBULANCE", 3, {"given": "Cloe"}),
            ("EWS", 3, {"dob": "swap"}),
            ("CSC", 4, {"given": "Alfred"}),
            ("HOUSING", 4, {"dob": "year"}),
        ),
    ),
    PlantedFamily(
        key="mycock",
        kind="revolving_door",
        description="A father and adult son: drink, drugs and offending; probation, police and housing in a loop.",
        members=(
            PlantedMember("Dean", "Mycock", "M", 47, (12, 2)),
            PlantedMember("Tyler", "Mycock", "M", 20, (4, 11)),
        ),
        needs=("substance_use", "crime_asb", "housing", "work", "finances", "health"),
        demand=(
            ("POLICE", 45, (2, 3)),
            ("PROBATION", 40, (1, 2)),
            ("ED", 18, (1, 1)),
            ("AMBULANCE", 10, (1, 1)),
            ("HOUSING", 30, (2, 1)),
            ("REVBEN", 10, (1, 0)),
            ("FOODBANK", 10, (1, 1)),
            ("CAB", 4, (1, 0)),
            ("ASC", 6, (1, 0)),
            ("FIRE", 2, (1, 0)),
        ),
        overrides=(
            ("POLICE", 1, {"family": "MYCOK"}),
            ("PROBATION", 1, {"dob": "year"}),
            ("FOODBANK", 0, {"given": "Deano", "dob": "none"}),
            ("ED", 0, {"family": "Maycock"}),
        ),
    ),
    PlantedFamily(
        key="boulton",
        kind="revolving_door",
        description="An older woman who keeps falling, and her son who drinks: ambulance, ED and adult care on repeat.",
        members=(
            PlantedMember("Margaret", "Boulton", "F", 75, (8, 12)),
            PlantedMember("Graham", "Boulton", "M", 50, (1, 5)),
        ),
        needs=("health", "substance_use", "finances", "crime_asb", "housing"),
        demand=(
            ("AMBULANCE", 35, (3, 1)),
            ("ED", 28, (2, 1)),
            ("ASC", 40, (3, 1)),
            ("FIRE", 4, (1, 0)),
            ("POLICE", 20, (1, 2)),
            ("HOUSING", 20, (1, 1)),
            ("FOODBANK", 8, (0, 1)),
            ("CAB", 6, (1, 1)),
        ),
        overrides=(
            ("AMBULANCE", 0, {"given": "Maggie"}),
            ("ED", 0, {"given": "Peggy", "dob": "swap"}),
            ("FIRE", 0, {"family": "Bolton"}),
            ("FOODBANK", 1, {"dob": "none"}),
        ),
    ),
    PlantedFamily(
        key="pointon",
        kind="revolving_door",
        description="A mother and two children living with domestic abuse: police and children's social care again "
        "and again, a homelessness application, the children missing school.",
        members=(
            PlantedMember("Leanne", "Pointon", "F", 34, (5, 3)),
            PlantedMember("Mia", "Pointon", "F", 11, (10, 7)),
            PlantedMember("Riley", "Pointon", "M", 7, (3, 12)),
        ),
        needs=("domestic_abuse", "childrens_safety", "housing", "finances", "school_attendance", "health"),
        demand=(
            ("POLICE", 35, (4, 1, 1)),
            ("CSC", 60, (1, 3, 3)),
            ("ED", 8, (2, 1, 1)),
            ("AMBULANCE", 5, (1, 0, 0)),
            ("HOUSING", 15, (1, 0, 0)),
            ("CAB", 5, (1, 0, 0)),
            ("FOODBANK", 10, (1, 0, 0)),
            ("EWS", 8, (0, 1, 1)),
        ),
        overrides=(
            ("POLICE", 0, {"family": "POYNTON"}),
            ("CAB", 0, {"given": "Lianne", "dob": "none"}),
            ("CSC", 2, {"given": "Reilly"}),
        ),
    ),
    PlantedFamily(
        key="hassall",
        kind="needs_owner",
        description="A mother and son new to the system: repeat demand at five agencies in the last 90 days "
        "(rent and council tax arrears, food parcels, school attendance) and no key worker.",
        members=(
            PlantedMember("Kayleigh", "Hassall", "F", 30, (1, 9)),
            PlantedMember("Jayden", "Hassall", "M", 10, (7, 1)),
        ),
        needs=("finances", "work", "school_attendance"),
        demand=(
            ("HOUSING", 5, (1, 0)),
            ("REVBEN", 4, (1, 0)),
            ("FOODBANK", 5, (1, 0)),
            ("CAB", 3, (1, 0)),
            ("EWS", 4, (0, 1)),
        ),
        recent=True,
        overrides=(("FOODBANK", 0, {"given": "Kayley", "dob": "none"}),),
    ),
    PlantedFamily(
        key="beech",
        kind="asb_repeat",
        description="An older couple reporting anti-social behaviour: three police ASB reports in 30 days "
        "(an ASB case review trigger) and two complaints to housing.",
        members=(
            PlantedMember("Raymond", "Beech", "M", 78, (11, 21)),
            PlantedMember("Joan", "Beech", "F", 76, (4, 2)),
        ),
        needs=("crime_asb",),
        fixed=(
            ("POLICE", 0, 44, "asb_report", "kids keep throwing stones at my windows"),
            ("HOUSING", 1, 40, "asb_complaint", "the neighbours play loud music all night"),
            ("POLICE", 0, 32, "asb_report", "my neighbour is threatening me"),
            ("POLICE", 1, 19, "asb_report", "my neighbour is threatening me"),
            ("HOUSING", 0, 18, "asb_complaint", "my neighbour is threatening me"),
        ),
        overrides=(("POLICE", 1, {"family": "BEACH"}),),
    ),
)
