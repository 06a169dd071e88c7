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
        "title": "Kilnbury Supporting Families information sharing agreement",
        "lawful_basis": "public_task",
        "special_category_condition": "DPA 2018 Sch. 1 para 6 (statutory and government purposes)",
        "purposes": "Identifying families who need a key worker\nCoordinating support around a family",
        "data_categories": ["identity", "contacts", "needs", "risk_flags", "case_notes"],
        "parties": {**{code: Tier.SUMMARY for code in STATUTORY}, **{code: Tier.FULL for code in KEY_WORKER_AGENCIES}},
        "signed_document_ref": "Kilnbury partnership board minute 2024/17",
    },
    {
        "reference": "KIL-ISA-002",
        "title": "Voluntary and community sector signposting protocol",
        "lawful_basis": "public_task",
        "purposes": "Telling voluntary partners which agencies are involved, so they can route people",
        "data_categories": ["identity"],
        "parties": {"FOODBANK": Tier.SIGNPOST, "CAB": Tier.SIGNPOST, "CSC": Tier.SUMMARY, "HOUSING": Tier.SUMMARY},
        "signed_document_ref": "VCS protocol v2, signed 2024-04-01",
    },
    {
        "reference": "KIL-ISA-003",
        "title": "MARAC information sharing protocol",
        "lawful_basis": "law_enforcement",
        "special_category_condition": "DPA 2018 s.35 and Sch. 8 (safeguarding)",
        "purposes": "Safety planning for victims of high-risk domestic abuse",
        "data_categories": ["identity", "contacts", "needs", "risk_flags", "police_intelligence"],
        "parties": {"POLICE": Tier.FULL, "CSC": Tier.FULL, "HOUSING": Tier.FULL, "ED": Tier.FULL},
        "signed_document_ref": "Kilnbury MARAC protocol 2024",
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
