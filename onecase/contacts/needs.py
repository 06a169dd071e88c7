"""The default need taxonomy and the keyword matcher that places presenting needs in it.

The categories are the Supporting Families headline outcomes; the keywords are a starting
point that each partnership edits (admin pages) to fit how its citizens talk.
"""

import re

DEFAULT_CATEGORIES = [
    ("finances", "Financial stability", "Debt, arrears, benefits, food and fuel poverty"),
    ("work", "Work", "Finding and keeping work, skills"),
    ("housing", "Secure housing", "Homelessness, tenancy, repairs, overcrowding"),
    ("crime_asb", "Crime and anti-social behaviour", "Offending, victims, neighbour disputes"),
    ("domestic_abuse", "Safe from domestic abuse", "Abuse by a partner or family member"),
    ("health", "Improved mental and physical health", "Illness, injury, mental health"),
    ("substance_use", "Substance use", "Alcohol and drugs"),
    ("school_attendance", "School attendance", "Getting a good education"),
    ("early_years", "Early years and development", "Babies and young children"),
    ("childrens_safety", "Children safe from abuse and exploitation", "Neglect, exploitation, missing children"),
]

DEFAULT_KEYWORDS = {
    "finances": [
        "rent arrears", "arrears", "council tax", "debt", "debts", "bills", "can't pay", "cannot pay",
        "money", "benefit", "benefits", "universal credit", "food", "hungry", "electric", "gas meter",
        "bailiffs", "loan", "sanction", "afford", "heating", "electric", "cut off", "payday",
    ],
    "work": [
        "find work", "find a job", "job", "work", "employment", "unemployed", "cv", "training", "interview",
        "jobcentre",
    ],
    "housing": [
        "homeless", "evicted", "eviction", "repair", "repairs", "damp", "mould", "housing", "tenancy",
        "somewhere to live", "sofa", "overcrowded", "leak", "boiler", "nowhere to live", "leaking", "roof",
        "too many of us", "smoke alarm", "landlord",
    ],
    "crime_asb": [
        "neighbour", "neighbours", "noise", "threatening", "threatened", "burgled", "stolen", "theft",
        "fight", "fighting", "vandal", "vandalism", "harassment", "gang", "asb", "anti-social",
        "police", "arrested", "court", "throwing stones", "drug dealing", "broken into", "set fire",
        "break-in", "robbed", "mugged",
    ],
    "domestic_abuse": [
        "hit me", "hits me", "partner", "ex-partner", "boyfriend", "husband", "domestic", "abuse",
        "controlling", "scared of him", "scared of her", "my ex", "turning up at the door", "stalking",
    ],
    "health": [
        "pain", "ill", "sick", "hospital", "doctor", "gp", "fell", "fall", "injury", "injured",
        "breathing", "chest", "depressed", "depression", "anxiety", "mental health", "suicidal",
        "self-harm", "medication", "breathe", "temperature", "cope", "can't manage", "hurt my",
        "cut my", "broken my", "asthma", "feeling really low", "hearing voices", "stairs", "washed and dressed",
        "forgetting", "wandering", "fits", "tablets", "nobody has seen", "lonely", "dementia",
    ],
    "substance_use": ["drink", "drinking", "drunk", "alcohol", "drugs", "drug", "overdose", "heroin", "cannabis"],
    "school_attendance": ["school", "truant", "truanting", "attendance", "excluded", "college"],
    "early_years": ["baby", "nursery", "toddler", "pregnant", "health visitor", "childcare"],
    "childrens_safety": [
        "child protection", "neglect", "missing", "exploited", "exploitation", "grooming",
        "kids are not safe", "left alone", "kids next door", "control my son", "control my daughter",
        "left on their own",
    ],
}


def load_default_taxonomy(NeedCategory, NeedKeyword) -> None:  # noqa: N803 (model classes, also historical ones)
    """Create or update the default categories and add their keywords; never removes local edits."""
    for order, (code, name, description) in enumerate(DEFAULT_CATEGORIES, start=1):
        category, _ = NeedCategory.objects.update_or_create(
            code=code, defaults={"name": name, "description": description, "order": order}
        )
        for phrase in DEFAULT_KEYWORDS[code]:
            NeedKeyword.objects.get_or_create(phrase=phrase, defaults={"category": category})


class NeedMatcher:
    """Place free text in a category by its keywords; longer phrases win over shorter ones."""

    def __init__(self, keywords: list[tuple[str, int]]):
        # (phrase, category id): longest first so "rent arrears" beats "arrears".
        ordered = sorted(keywords, key=lambda item: (-len(item[0]), item[0]))
        self._patterns = [(re.compile(rf"\b{re.escape(phrase.lower())}\b"), category) for phrase, category in ordered]

    def match(self, text: str) -> int | None:
        lowered = text.lower().replace("’", "'")
        for pattern, category in self._patterns:
            if pattern.search(lowered):
                return category
        return None
