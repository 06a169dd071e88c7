"""A seeded synthetic partnership for measuring linkage: households, people and noisy agency records.

Every agency records the people it meets in its own way: nicknames, typos, family names
spelled differently or swapped with the given name, dates of birth missing, with day and
month swapped or a year out, postcodes without spaces or with one character wrong,
abbreviated streets. The truth (which real person and household each record is) comes
with the records, so precision and recall can be measured. Families are the hard part:
parents and children share a family name and an address, and some children are twins.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from onecase.linkage.names import NICKNAME_GROUPS

NICKNAMES = {formal: variants for formal, variants in NICKNAME_GROUPS.items() if len(variants) > 0}

MALE = (
    "oliver george harry jack jacob noah charlie thomas oscar william james henry leo alfie joshua freddie "
    "archie ethan isaac alexander joseph edward samuel max daniel arthur lucas mohammed logan theo harrison "
    "benjamin mason sebastian finley adam dylan zachary riley teddy david toby luke elijah tyler jayden "
    "louis reuben matthew michael john robert richard christopher anthony mark paul stephen andrew kevin "
    "gary peter ian simon martin lee neil craig darren jason wayne dean scott shaun carl barry keith "
    "trevor colin graham brian derek gordon kenneth ronald raymond patrick frederick terence philip "
    "nicholas timothy jonathan gregory dominic stuart lewis kyle ryan callum connor jordan liam nathan "
    "aaron jamie bradley ben sam tom dan josh"
).split()
FEMALE = (
    "olivia amelia isla ava emily sophia grace mia poppy ella lily evie isabella sophie ivy freya harper "
    "willow charlotte jessica daisy florence millie ruby alice chloe matilda phoebe sienna elsie rosie "
    "evelyn lucy maya emma holly zara imogen scarlett hannah megan lauren bethany amy rebecca sarah laura "
    "nicola karen julie susan tracey michelle claire kelly donna lisa joanne helen emma dawn angela "
    "deborah jacqueline amanda samantha victoria elizabeth katherine catherine margaret mary patricia "
    "barbara jennifer linda carol sandra christine janet pauline gillian teresa diane denise wendy "
    "louise natalie stephanie kimberley leanne gemma jade chelsea shannon paige abigail eleanor josephine "
    "caroline alexandra frances jane anne valerie judith penelope"
).split()
SURNAMES_COMMON = (
    "smith jones williams taylor brown davies evans wilson thomas johnson roberts robinson thompson "
    "wright walker white edwards hughes green hall lewis harris clarke patel jackson wood turner martin "
    "cooper hill ward morris moore clark lee king baker harrison morgan allen james scott phillips "
    "watson davis parker price bennett young griffiths mitchell kelly cook carter richardson bailey "
    "collins bell shaw murphy miller cox richards khan marshall anderson simpson ellis adams singh "
    "begum wilkinson foster chapman powell webb rogers gray mason ali hunt hussain campbell matthews "
    "owen palmer holmes mills barnes knight lloyd butler russell barker fisher stevens jenkins murray "
    "dixon harvey graham pearson ahmed fletcher walsh kaur gibson howard andrews stewart elliott reynolds "
    "saunders payne fox ford pearce day brooks west lawrence cole atkinson bradley spencer gill dawson "
    "ball burton obrien watts rose booth perry ryan grant wells armstrong francis rees hayes hart hudson "
    "newman barrett webster hunter gregory carr lowe page marsh riley dunn woods parsons berry stone "
    "reid holland hawkins harding porter robertson newton oliver reed kennedy williamson bird gardner "
    "shah dean lane cooke bates henderson parry burgess bishop walton burns nicholson shepherd ross "
    "cross long freeman warren nicholls hamilton byrne sutton mcdonald yates hodgson robson curtis hopkins "
    "oconnor harper coleman watkins moss mccarthy chambers odonnell griffin sharp hardy wheeler potter"
).split()
SYLLABLES_A = (
    "ash brad brook car chad clif craw dal dun eld fair farn gold green hal hart hol kel kin lang "
    "mar mil nor oak pen rad red ros shel stan stock sum thorn wal wes whit wood york bar bel"
).split()
SYLLABLES_B = (
    "ford ley ton worth by field wood well more ham den croft shaw stead wick bury sley dale man son well"
).split()
STREETS = (
    "high church station victoria mill park queen king albert london manor chapel new school north south "
    "west east green bridge grange meadow orchard springfield windsor york richmond oak elm ash beech "
    "willow cedar hawthorn holly rowan cherry lime maple chestnut sycamore laurel birch hazel poplar "
    "trent hanley longton stoke burslem tunstall fenton etruria wedgwood spode minton"
).split()
STREET_TYPES = ("street", "road", "avenue", "lane", "close", "drive", "grove", "crescent", "place", "way", "terrace")
ABBREVIATIONS = {"street": "st", "road": "rd", "avenue": "ave", "lane": "ln", "close": "cl", "drive": "dr",
                 "grove": "gr", "crescent": "cres", "place": "pl", "terrace": "terr"}

# Agencies, with how often each records a date of birth, an address, a UPRN and an NHS number.
AGENCIES = (
    ("POLICE", 0.92, 0.90, 0.00, 0.00),
    ("FIRE", 0.55, 0.97, 0.30, 0.00),
    ("AMBULANCE", 0.90, 0.92, 0.00, 0.60),
    ("HOUSING", 0.90, 0.99, 0.85, 0.00),
    ("REVENUES", 0.80, 0.99, 0.90, 0.00),
    ("CHILDRENS", 0.97, 0.95, 0.20, 0.40),
    ("ADULTS", 0.97, 0.95, 0.20, 0.50),
    ("HEALTH", 0.98, 0.95, 0.00, 0.95),
    ("EDUCATION", 0.99, 0.95, 0.10, 0.00),
    ("PROBATION", 0.95, 0.85, 0.00, 0.00),
    ("FOODBANK", 0.30, 0.75, 0.00, 0.00),
    ("CHURCH", 0.20, 0.60, 0.00, 0.00),
    ("CAB", 0.50, 0.85, 0.00, 0.00),
    ("JOBCENTRE", 0.95, 0.95, 0.00, 0.00),
    ("DWP", 0.98, 0.95, 0.00, 0.00),
    ("GP", 0.99, 0.97, 0.00, 0.98),
    ("MENTALHEALTH", 0.95, 0.90, 0.00, 0.90),
    ("DRUGALCOHOL", 0.80, 0.70, 0.00, 0.30),
    ("DOMESTICABUSE", 0.60, 0.50, 0.00, 0.00),
    ("YOUTHJUSTICE", 0.97, 0.90, 0.00, 0.00),
)


@dataclass
class Person:
    id: int
    household: int
    given: str
    family: str
    dob: date
    sex: str


@dataclass
class Household:
    id: int
    address: int
    postcode: str
    number: str
    flat: str
    street: str
    uprn: str


@dataclass
class Record:
    agency: str
    person_ref: str
    given_name: str
    family_name: str
    date_of_birth: date | None
    sex: str
    address_line: str
    postcode: str
    uprn: str
    nhs_number: str
    true_person_id: int
    true_household_id: int
    true_address_id: int


@dataclass
class Population:
    people: list[Person] = field(default_factory=list)
    households: list[Household] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)


def _surname(rng: random.Random) -> str:
    if rng.random() < 0.6:
        index = min(int(rng.paretovariate(0.9)) - 1, len(SURNAMES_COMMON) - 1)
        return SURNAMES_COMMON[index if rng.random() < 0.5 else rng.randrange(len(SURNAMES_COMMON))]
    name = rng.choice(SYLLABLES_A) + rng.choice(SYLLABLES_B)
    if rng.random() < 0.5:
        name += rng.choice(("", "s", "e", "er", "ington", "all"))
    return name


def _given(rng: random.Random, sex: str) -> str:
    names = MALE if sex == "M" else FEMALE
    index = min(int(rng.paretovariate(0.7)) - 1, len(names) - 1)
    return names[index if rng.random() < 0.4 else rng.randrange(len(names))]


def _dob(rng: random.Random, start: int, end: int) -> date:
    return date(start, 1, 1) + timedelta(days=rng.randrange((date(end, 12, 31) - date(start, 1, 1)).days))


def _nhs(rng: random.Random) -> str:
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * (10 - i) for i, d in enumerate(digits)) % 11
        if check == 11:
            check = 0
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word))
    kind = rng.random()
    letters = "abcdefghijklmnopqrstuvwxyz"
    if kind < 0.3:
        return word[:i] + word[i + 1 :]
    if kind < 0.6:
        return word[:i] + rng.choice(letters) + word[i + 1 :]
    if kind < 0.8 and i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + rng.choice(letters) + word[i:]


SPELLINGS = {"smith": "smyth", "thompson": "thomson", "clarke": "clark", "davies": "davis", "phillips": "philips",
             "reid": "reed", "gray": "grey", "mathews": "matthews", "stevens": "stephens", "nicholls": "nichols",
             "obrien": "o'brien", "oconnor": "o'connor", "odonnell": "o'donnell", "mcdonald": "macdonald"}


def _case(rng: random.Random, value: str) -> str:
    roll = rng.random()
    if roll < 0.2:
        return value.upper()
    if roll < 0.25:
        return value.lower()
    return value.title()


class Generator:
    """Build a population of ``households`` households and their agency records, from ``seed``."""

    def __init__(self, seed: int = 1, *, twins: float = 0.04, missing_dob: float | None = None):
        self.rng = random.Random(seed)
        self.twins = twins
        self.missing_dob = missing_dob
        self.population = Population()
        self._refs: dict[str, int] = {}
        self._postcodes: list[tuple[str, list[str]]] = []
        self._taken: set[tuple] = set()

    # -- places -------------------------------------------------------------------------
    def _new_postcode(self) -> tuple[str, list[str]]:
        rng = self.rng
        outward = f"ST{rng.randint(1, 12)}"
        inward = f"{rng.randint(0, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
        streets = [f"{rng.choice(STREETS)} {rng.choice(STREET_TYPES)}" for _ in range(rng.randint(1, 2))]
        return f"{outward} {inward}", streets

    def _address(self) -> tuple[str, str, str, str]:
        rng = self.rng
        while True:
            if not self._postcodes or rng.random() < 0.08:
                self._postcodes.append(self._new_postcode())
            postcode, streets = rng.choice(self._postcodes[-200:])
            flat = str(rng.randint(1, 12)) if rng.random() < 0.12 else ""
            street = rng.choice(streets)
            number = str(rng.randint(1, 180))
            # One household per address.
            if (postcode, number, flat, street) not in self._taken:
                self._taken.add((postcode, number, flat, street))
                return postcode, number, flat, street

    # -- people -------------------------------------------------------------------------
    def household(self, members: list[tuple[str, str, date, str]] | None = None) -> Household:
        """Add one household; ``members`` (given, family, dob, sex) or a random family."""
        rng = self.rng
        pop = self.population
        postcode, number, flat, street = self._address()
        hid = len(pop.households) + 1
        house = Household(hid, hid, postcode, number, flat, street, str(100000000000 + hid * 7 + rng.randrange(7)))
        pop.households.append(house)
        for given, family, dob, sex in members or self._family():
            pop.people.append(Person(len(pop.people) + 1, hid, given, family, dob, sex))
        return house

    def _family(self) -> list[tuple[str, str, date, str]]:
        rng = self.rng
        roll = rng.random()
        family = _surname(rng)
        adults: list[tuple[str, str, date, str]] = []
        first_sex = rng.choice("MF")
        adults.append((_given(rng, first_sex), family, _dob(rng, 1945, 2002), first_sex))
        if roll > 0.3:
            sex = "F" if first_sex == "M" or rng.random() < 0.05 else "M"
            partner_family = family if rng.random() < 0.75 else _surname(rng)
            base = adults[0][2]
            dob = base + timedelta(days=rng.randint(-3000, 3000))
            if dob > date(2004, 12, 31):
                dob = _dob(rng, 1990, 2004)
            adults.append((_given(rng, sex), partner_family, dob, sex))
        children: list[tuple[str, str, date, str]] = []
        if roll > 0.45:
            count = rng.choice((1, 1, 2, 2, 2, 3, 3, 4, 5))
            youngest_parent = max(a[2] for a in adults)
            born = youngest_parent + timedelta(days=365 * rng.randint(18, 30))
            for _ in range(count):
                born = born + timedelta(days=rng.randint(330, 1500))
                if born > date(2024, 6, 1):
                    break
                sex = rng.choice("MF")
                names = {c[0] for c in children} | {a[0] for a in adults}
                given = _given(rng, sex)
                while given in names:
                    given = _given(rng, sex)
                children.append((given, family, born, sex))
                if rng.random() < self.twins:
                    sex2 = rng.choice("MF")
                    given2 = _given(rng, sex2)
                    while given2 in names or given2 == given:
                        given2 = _given(rng, sex2)
                    children.append((given2, family, born, sex2))
        elif roll > 0.9:
            # A grown-up child or grandparent living with them.
            sex = rng.choice("MF")
            children.append((_given(rng, sex), family, _dob(rng, 1935, 2004), sex))
        return adults + children

    # -- records ------------------------------------------------------------------------
    def _ref(self, agency: str) -> str:
        n = self._refs.get(agency, 0) + 1
        self._refs[agency] = n
        return f"{agency[:3]}{n:07d}"

    def _noisy_given(self, given: str) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.14 and given in NICKNAMES:
            return rng.choice(NICKNAMES[given])
        if roll < 0.19:
            return _typo(rng, given)
        if roll < 0.21:
            return given[0]
        if roll < 0.23:
            return ""
        return given

    def _noisy_family(self, family: str) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.05 and family in SPELLINGS:
            return SPELLINGS[family]
        if roll < 0.09:
            return _typo(rng, family)
        if roll < 0.105:
            return ""
        return family

    def _noisy_dob(self, dob: date, keep: float) -> date | None:
        rng = self.rng
        if rng.random() > keep:
            return None
        roll = rng.random()
        if roll < 0.04 and dob.day <= 12 and dob.day != dob.month:
            return date(dob.year, dob.day, dob.month)
        if roll < 0.07:
            try:
                return dob.replace(year=dob.year + rng.choice((-1, 1)))
            except ValueError:
                return dob
        if roll < 0.09:
            try:
                return dob.replace(day=min(28, max(1, dob.day + rng.choice((-1, 1, 10, -10)))))
            except ValueError:
                return dob
        return dob

    def _noisy_postcode(self, postcode: str) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.03:
            i = rng.choice([j for j, c in enumerate(postcode) if c != " "][-2:])
            postcode = postcode[:i] + rng.choice("ABDEFGHJLNPQRSTUWXYZ") + postcode[i + 1 :]
        roll = rng.random()
        if roll < 0.3:
            return postcode.replace(" ", "")
        if roll < 0.45:
            return postcode.lower()
        if roll < 0.5:
            return postcode.lower().replace(" ", "")
        return postcode

    def _address_line(self, house: Household) -> str:
        rng = self.rng
        street = house.street
        if rng.random() < 0.4:
            words = street.split()
            words[-1] = ABBREVIATIONS.get(words[-1], words[-1])
            street = " ".join(words)
        street = _case(rng, street)
        line = f"{house.number} {street}"
        if rng.random() < 0.2:
            line = f"{house.number}, {street}"
        if house.flat:
            line = rng.choice((f"Flat {house.flat}, {line}", f"{house.flat}/{house.number} {street}",
                               f"Flat {house.flat} {line}"))
        if rng.random() < 0.25:
            line += rng.choice((", Hanley", ", Stoke-on-Trent", ", Longton", " Stoke"))
        return line

    def record(self, person: Person, agency: tuple, *, ref: str | None = None) -> Record:
        """One agency's noisy record of ``person``."""
        rng = self.rng
        code, dob_rate, address_rate, uprn_rate, nhs_rate = agency
        house = self.population.households[person.household - 1]
        given = self._noisy_given(person.given)
        family = self._noisy_family(person.family)
        if rng.random() < 0.02:
            given, family = family, given
        keep_dob = dob_rate if self.missing_dob is None else 1 - self.missing_dob
        has_address = rng.random() < address_rate
        return Record(
            agency=code,
            person_ref=ref or self._ref(code),
            given_name=_case(rng, given),
            family_name=_case(rng, family),
            date_of_birth=self._noisy_dob(person.dob, keep_dob),
            sex=(rng.choice(("M", "Male", "male")) if person.sex == "M" else rng.choice(("F", "Female", "female")))
            if rng.random() < 0.85 else "",
            address_line=self._address_line(house) if has_address else "",
            postcode=self._noisy_postcode(house.postcode) if has_address and rng.random() < 0.95 else "",
            uprn=house.uprn if has_address and rng.random() < uprn_rate else "",
            nhs_number=_nhs(random.Random(person.id * 7919)) if rng.random() < nhs_rate else "",
            true_person_id=person.id,
            true_household_id=house.id,
            true_address_id=house.address,
        )

    def records_for(self, person: Person, count: int, agencies: tuple = AGENCIES) -> list[Record]:
        """``count`` records of ``person`` at different agencies (more than the agencies: some agencies twice)."""
        rng = self.rng
        chosen = rng.sample(agencies, min(count, len(agencies)))
        while len(chosen) < count:
            chosen.append(rng.choice(agencies))
        out = [self.record(person, agency) for agency in chosen]
        self.population.records.extend(out)
        return out

    def generate(self, records: int) -> Population:
        """Households and records until there are at least ``records`` agency records."""
        rng = self.rng
        while len(self.population.records) < records:
            start = len(self.population.people)
            self.household()
            for person in self.population.people[start:]:
                count = 1 + min(int(rng.expovariate(0.55)), 11)
                self.records_for(person, count)
        return self.population


def iter_truth(population: Population) -> Iterator[tuple]:
    for r in population.records:
        yield r.agency, r.person_ref, r.true_person_id, r.true_household_id, r.true_address_id


def load(records: list[Record], *, contacts: bool = True, as_of=None) -> dict[int, tuple[int, int, int]]:
    """Insert ``records`` as agency people (and one contact each) set-based; returns id -> truth.

    For tests and benchmarks only: real records arrive through the contact import.
    """
    from datetime import UTC, datetime

    from django.db import connection

    from onecase.accounts.models import Agency
    from onecase.linkage import dbio

    now = as_of or datetime(2025, 1, 1, tzinfo=UTC)
    codes = sorted({r.agency for r in records})
    agency_ids = {}
    for code in codes:
        agency_ids[code] = Agency.objects.get_or_create(code=code, defaults={"name": code})[0].pk
    ids = dbio.reserve_ids("people_agencyperson", len(records))
    stamp = dbio.adapt_datetime(now)
    postgres = connection.vendor == "postgresql"
    dbio.insert(
        "people_agencyperson",
        ("id", "agency_id", "person_ref", "given_name", "family_name", "date_of_birth", "sex", "address_line",
         "postcode", "uprn", "nhs_number", "identity_as_of", "created_at", "updated_at"),
        (
            (i, agency_ids[r.agency], r.person_ref, r.given_name, r.family_name,
             r.date_of_birth if postgres or r.date_of_birth is None else r.date_of_birth.isoformat(),
             r.sex, r.address_line, r.postcode, r.uprn, r.nhs_number, stamp, stamp, stamp)
            for i, r in zip(ids, records, strict=True)
        ),
    )
    if contacts:
        dbio.insert(
            "contacts_contact",
            ("agency_id", "record_id", "agency_person_id", "occurred_at", "contact_type", "presenting_need",
             "outcome", "staff_role", "source_system", "address_line", "postcode", "uprn", "imported_at",
             "updated_at"),
            (
                (agency_ids[r.agency], f"C{i}", i, stamp, "contact", "", "", "", "", r.address_line, r.postcode,
                 r.uprn, stamp, stamp)
                for i, r in zip(ids, records, strict=True)
            ),
        )
    return {i: (r.true_person_id, r.true_household_id, r.true_address_id) for i, r in zip(ids, records, strict=True)}
