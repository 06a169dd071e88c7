"""The demo partnership's information sharing agreements."""

from datetime import date

from onecase.accounts.models import Agency
from onecase.sharing.models import Agreement, Tier
from onecase.sharing.services import agreement_create

STATUTORY = ("POLICE", "FIRE", "AMBULANCE", "ED", "HOUSING", "REVBEN", "CSC", "ASC", "EWS", "PROBATION")
KEY_WORKER_AGENCIES = ("CSC", "ASC", "HOUSING")

AGREEMENTS = [
    {
        "reference": "KIL-ISA-001",
        "title": "Supporting Families: finding the families who need a key worker",
        "lawful_basis": "public_task",
        "special_category_condition": "DPA 2018 Sch. 1 para 6 (statutory and government purposes)",
        "purposes": "Finding the families who need a key worker, from how often and why each agency meets "
                    "them. Partners see who is involved, how often and at what cost, and the needs raised, "
                    "never the records themselves.",
        "purpose_codes": ["finding_families"],
        "data_categories": ["identity", "contacts", "needs"],
        "parties": {code: Tier.SUMMARY for code in STATUTORY},
        "signed_document_ref": "Kilnbury partnership board minute 2024/17",
    },
    {
        "reference": "KIL-ISA-002",
        "title": "Supporting Families: coordinating support around a family",
        "lawful_basis": "public_task",
        "special_category_condition": "DPA 2018 Sch. 1 para 6 (statutory and government purposes)",
        "purposes": "Coordinating support around a family once a key worker holds their case: the key worker "
                    "sees partners' records of the family in full; partners pulled into the case see a summary.",
        "purpose_codes": ["key_work"],
        "data_categories": ["identity", "contacts", "needs", "risk_flags", "case_notes"],
        "parties": {**{code: Tier.SUMMARY for code in STATUTORY}, **{code: Tier.FULL for code in KEY_WORKER_AGENCIES}},
        "signed_document_ref": "Kilnbury partnership board minute 2024/17",
    },
    {
        "reference": "KIL-ISA-003",
        "title": "Voluntary and community sector referral and consent protocol",
        "lawful_basis": "consent",
        "purposes": "With the person's consent, voluntary partners tell the key worker agencies what they "
                    "know of the people whose support those agencies coordinate. Voluntary partners are told "
                    "only which agencies are involved, so that they can route people to them.",
        "purpose_codes": ["key_work"],
        "data_categories": ["identity", "contacts", "needs"],
        "parties": {"FOODBANK": Tier.SIGNPOST, "CAB": Tier.SIGNPOST, "CSC": Tier.FULL, "HOUSING": Tier.FULL,
                    "ASC": Tier.FULL},
        "signed_document_ref": "VCS protocol v2, signed 2024-04-01",
    },
    {
        "reference": "KIL-ISA-004",
        "title": "MARAC information sharing protocol",
        "lawful_basis": "law_enforcement",
        "special_category_condition": "DPA 2018 s.35 and Sch. 8 (safeguarding)",
        "purposes": "Safety planning for victims of high-risk domestic abuse discussed at the MARAC, by the "
                    "agencies attending it, from its preparation to the follow-up of its actions.",
        "purpose_codes": ["marac"],
        "data_categories": ["identity", "contacts", "needs", "risk_flags", "police_intelligence"],
        "parties": {"POLICE": Tier.FULL, "CSC": Tier.FULL, "HOUSING": Tier.FULL, "ED": Tier.FULL},
        "signed_document_ref": "Kilnbury MARAC protocol 2024",
    },
    {
        "reference": "KIL-ISA-005",
        "title": "Community safety partnership: anti-social behaviour case reviews",
        "lawful_basis": "public_task",
        "special_category_condition": "DPA 2018 Sch. 1 para 10 (preventing or detecting unlawful acts)",
        "purposes": "Reviewing the response to persistent anti-social behaviour when a victim asks for an ASB "
                    "case review (Anti-social Behaviour, Crime and Policing Act 2014, s.104).",
        "purpose_codes": ["asb_case_review"],
        "data_categories": ["identity", "contacts", "needs", "risk_flags"],
        "parties": {"POLICE": Tier.FULL, "HOUSING": Tier.FULL, "ASC": Tier.SUMMARY, "CSC": Tier.SUMMARY},
        "signed_document_ref": "Kilnbury community safety partnership ASB protocol 2024",
    },
]


def load_demo_agreements(*, starts_on: date) -> list[Agreement]:
    """Create the demo agreements (once); agencies missing from the partnership are left out."""
    agencies = {a.code: a for a in Agency.objects.all()}
    created = []
    for spec in AGREEMENTS:
        if Agreement.objects.filter(reference=spec["reference"]).exists():
            continue
        parties = {agencies[code]: tier for code, tier in spec["parties"].items() if code in agencies}
        if len(parties) < 2:
            continue
        fields = {k: v for k, v in spec.items() if k != "parties"}
        created.append(agreement_create(actor=None, starts_on=starts_on, parties=parties, **fields))
    return created
