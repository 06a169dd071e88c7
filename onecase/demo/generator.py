"""The demo partnership: a synthetic city, its twelve agencies' contact exports, and the
hidden truth behind them.

``generate()`` builds everything in memory; ``write()`` writes one canonical contact CSV per
agency (see onecase/imports/contact_format.py) and the truth files. Only ``random.Random`` is
used, seeded per stage, so the same arguments always give byte-identical files.

The city: people in households at addresses (a few households move). Each household has a
vulnerability level and a set of needs (Supporting Families categories); needs drive demand
at the agencies that serve them, and repeat contacts grow with vulnerability (failure
demand). Each agency records a person under its own reference with its own noise: nicknames,
typos, spelling variants, missing or mistyped dates of birth, postcode and address
formatting, and sometimes a second reference for the same person. A few families are
planted so that the revolving door, "needs an owner" and ASB stories of the talk can be found.
"""

from __future__ import annotations

import calendar
import csv
import functools
import itertools
import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from random import Random

from onecase.demo.catalogue import (
    AGENCIES,
    AGENCY_BY_CODE,
    CHILD_NEEDS,
    NEED_AGES,
    NEED_CATEGORIES,
    NEED_PHRASES,
    PHRASES,
    PHRASES_BY_NEED,
    PLANTED,
    RECENT_DAYS,
    AgencySpec,
    Kind,
    PlantedFamily,
)
from onecase.demo.names import (
    DISTRICTS,
    GIVEN_NAMES,
    POSTCODE_UNIT_LETTERS,
    STREET_STEMS,
    STREET_SUFFIXES,
    SURNAMES,
)
from onecase.imports.contact_format import CONTEXT, IDENTITY, REQUIRED

DEFAULT_SEED = 2024
DEFAULT_PEOPLE = 20_000
MIN_PEOPLE, MAX_PEOPLE = 50, 200_000
DEFAULT_END_DATE = date(2026, 9, 30)
WINDOW_MONTHS = 24
HEADER = (*REQUIRED, *IDENTITY, *CONTEXT)
__all__ = ["AGENCIES", "NEED_CATEGORIES", "NEED_PHRASES", "PLANTED", "Demo", "generate", "write"]

# By household vulnerability (0 = no needs): how often needs bring someone to an agency's
# door, and how many times they come back about the same thing (failure demand).
VULNERABILITY_RATE = (0.0, 1.0, 1.8, 3.0)
VULNERABILITY_REPEAT = (0.4, 1.0, 1.6, 2.2)
# The share of a household need's demand that falls on members other than the one who has it.
BYSTANDER_SHARE = 0.2

# --- the city ---------------------------------------------------------------------------


@dataclass
class Address:
    id: int
    number: int
    flat: int | None
    street: str
    street_short: str
    locality: str
    postcode: str
    uprn: str
    council: bool

    def line(self, style: int = 0) -> str:
        """The address as written in one of a few house styles (0 is the canonical one)."""
        street = self.street_short if style in (1, 5) else self.street
        if style == 1:
            text = f"{self.flat}/{self.number} {street}" if self.flat else f"{self.number} {street}"
        elif style == 4:
            text = f"{self.number} {street}, Flat {self.flat}" if self.flat else f"{self.number}, {street}"
        elif style == 5:
            text = f"Flat {self.flat} {self.number} {street}" if self.flat else f"{self.number} {street}"
        else:
            text = f"Flat {self.flat}, {self.number} {street}" if self.flat else f"{self.number} {street}"
        if style == 3:
            text = f"{text}, {self.locality}"
        return text.upper() if style == 2 else text


ADDRESS_STYLES = 6
POSTCODE_STYLES = 4


@dataclass
class Household:
    id: int
    kind: str
    vulnerability: int
    needs: tuple[str, ...]
    members: list[int] = field(default_factory=list)
    moves: list[tuple[int, int]] = field(default_factory=list)  # (from day index, address id), in order
    planted: PlantedFamily | None = None

    def address_on(self, day: int) -> int:
        if len(self.moves) == 1:
            return self.moves[0][1]
        current = self.moves[0][1]
        for start, address in self.moves:
            if start <= day:
                current = address
        return current


@dataclass
class Person:
    id: int
    household: int
    given: str
    family: str
    sex: str
    dob: date
    nhs: str
    head: bool = False

    def age_on(self, when: date) -> int:
        return when.year - self.dob.year - ((when.month, when.day) < (self.dob.month, self.dob.day))


@dataclass(frozen=True)
class Window:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def middle(self) -> date:
        return self.start + timedelta(days=self.days // 2)


def window_for(end: date, months: int = WINDOW_MONTHS) -> Window:
    """The ``months`` months ending on ``end`` (inclusive)."""
    year, month = divmod(end.month - 1 - months, 12)
    year, month = end.year + year, month + 1
    day = min(end.day, calendar.monthrange(year, month)[1])
    return Window(start=date(year, month, day) + timedelta(days=1), end=end)


@dataclass
class Event:
    """One true contact, before any agency writes it down."""

    agency: str
    person: int
    when: datetime
    kind: str
    need: str
    phrase: str
    outcome: str
    staff: str
    seq: int


@dataclass
class Demo:
    """Everything generated: the city, each agency's rows, and the truth."""

    seed: int
    window: Window
    addresses: list[Address]
    households: list[Household]
    people: list[Person]
    rows: dict[str, list[list[str]]]
    truth_refs: list[tuple[str, str, str, str, str]]
    truth_contacts: list[tuple[str, str, str, str, str]]
    families: list[dict]

    @property
    def contacts(self) -> int:
        return sum(len(r) for r in self.rows.values())

    @property
    def movers(self) -> int:
        return sum(1 for h in self.households if len(h.moves) > 1)


def person_key(pid: int) -> str:
    return f"TP{pid:06d}"


def household_key(hid: int) -> str:
    return f"TH{hid:06d}"


def address_key(aid: int) -> str:
    return f"TA{aid:06d}"


# --- generation -------------------------------------------------------------------------

Progress = Callable[[str, int, int], None]


def generate(
    *,
    seed: int = DEFAULT_SEED,
    people: int = DEFAULT_PEOPLE,
    end_date: date = DEFAULT_END_DATE,
    progress: Progress | None = None,
) -> Demo:
    """Build the demo partnership. ``progress(stage, done, total)`` is called now and then."""
    if not MIN_PEOPLE <= people <= MAX_PEOPLE:
        raise ValueError(f"the demo city holds {MIN_PEOPLE:,} to {MAX_PEOPLE:,} people")
    window = window_for(end_date)
    city = _City(Random(f"{seed}:city"), people, window)
    city.build()
    events = _Demand(Random(f"{seed}:demand"), city, window, progress).run()
    recorder = _Recorder(Random(f"{seed}:records"), city, window)
    rows, truth_refs, truth_contacts = recorder.record(events, progress)
    return Demo(
        seed=seed,
        window=window,
        addresses=city.addresses,
        households=city.households,
        people=city.people,
        rows=rows,
        truth_refs=truth_refs,
        truth_contacts=truth_contacts,
        families=_families(city, events, rows, truth_refs),
    )


def _weighted(rng: Random, items, weights):
    return rng.choices(items, weights=weights)[0]


def _poisson(rng: Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class _City:
    """People in households at addresses."""

    KINDS = ("single", "couple", "couple_children", "lone_parent", "couple_adult_children", "multigen", "sharers")
    KIND_WEIGHTS = (30, 27, 19, 11, 5, 5, 3)

    def __init__(self, rng: Random, target: int, window: Window):
        self.rng = rng
        self.target = target
        self.window = window
        self.addresses: list[Address] = []
        self.households: list[Household] = []
        self.people: list[Person] = []
        self._nhs: set[str] = set()
        self._given = {
            (sex, era): [g for g in GIVEN_NAMES if g[1] == sex and era in g[2]] for sex in "MF" for era in "omy"
        }
        self._surnames = [s[0] for s in SURNAMES]
        self._surname_weights = [s[1] for s in SURNAMES]

    def build(self) -> None:
        for family in PLANTED:
            self._planted(family)
        while len(self.people) < self.target:
            self._household()
        self._addresses(int(len(self.households) * 1.12) + 40)
        self._place()

    # people

    def _born(self, age: int) -> date:
        """A date of birth for someone ``age`` at the start of the window."""
        start = self.window.start
        return start - timedelta(days=int(age * 365.25) + self.rng.randrange(1, 365))

    def _nhs_number(self) -> str:
        # NHS numbers starting 999 are reserved for testing and never issued, so these are nobody's.
        while True:
            digits = [9, 9, 9] + [self.rng.randrange(10) for _ in range(6)]
            check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
            check = 0 if check == 11 else check
            number = "".join(map(str, digits)) + str(check)
            if check != 10 and number not in self._nhs:
                self._nhs.add(number)
                return number

    def _given_name(self, sex: str, dob: date) -> str:
        era = "o" if dob.year < 1960 else "m" if dob.year < 1990 else "y"
        return self.rng.choice(self._given[(sex, era)])[0]

    def _surname(self) -> str:
        return _weighted(self.rng, self._surnames, self._surname_weights)

    def _person(self, household: Household, sex: str, age: int, family: str, head: bool = False) -> Person:
        dob = self._born(age)
        person = Person(
            id=len(self.people) + 1,
            household=household.id,
            given=self._given_name(sex, dob),
            family=family,
            sex=sex,
            dob=dob,
            nhs=self._nhs_number(),
            head=head,
        )
        self.people.append(person)
        household.members.append(person.id)
        return person

    def _children(self, household: Household, parent_age: int, family: str) -> None:
        count = _weighted(self.rng, (1, 2, 3, 4), (40, 40, 15, 5))
        oldest = min(17, parent_age - 18)
        for _ in range(count):
            sex = self.rng.choice("MF")
            self._person(household, sex, self.rng.randint(0, max(oldest, 0)), family)

    def _household(self) -> None:
        rng = self.rng
        kind = _weighted(rng, self.KINDS, self.KIND_WEIGHTS)
        vulnerability = _weighted(rng, (0, 1, 2, 3), (40, 30, 20, 10) if kind == "lone_parent" else (56, 26, 13, 5))
        household = Household(id=len(self.households) + 1, kind=kind, vulnerability=vulnerability, needs=())
        self.households.append(household)
        family = self._surname()
        if kind == "single":
            age = _weighted(rng, ((18, 30), (31, 64), (65, 92)), (20, 45, 35))
            self._person(household, rng.choice("MF"), rng.randint(*age), family, head=True)
        elif kind in ("couple", "couple_children", "couple_adult_children"):
            low, high = {"couple": (20, 88), "couple_children": (22, 50), "couple_adult_children": (42, 65)}[kind]
            age = rng.randint(low, high)
            first = rng.choice("MF")
            second = first if rng.random() < 0.05 else ("F" if first == "M" else "M")
            self._person(household, first, age, family, head=True)
            partner_family = family if rng.random() < 0.85 else self._surname()
            self._person(household, second, max(18, age + rng.randint(-4, 4)), partner_family)
            if kind == "couple_children":
                self._children(household, age, family)
            elif kind == "couple_adult_children":
                for _ in range(rng.randint(1, 2)):
                    self._person(household, rng.choice("MF"), rng.randint(18, min(30, age - 20)), family)
        elif kind == "lone_parent":
            age = rng.randint(18, 50)
            self._person(household, "F" if rng.random() < 0.9 else "M", age, family, head=True)
            self._children(household, age, family)
        elif kind == "multigen":
            parent_age = rng.randint(24, 45)
            self._person(household, rng.choice("MF"), parent_age, family, head=True)
            if rng.random() < 0.6:
                self._person(household, rng.choice("MF"), parent_age + rng.randint(-3, 3), self._surname())
            grand_age = parent_age + rng.randint(22, 34)
            self._person(household, "F", grand_age, family)
            if rng.random() < 0.4:
                self._person(household, "M", grand_age + rng.randint(-2, 5), family)
            self._children(household, parent_age, family)
        else:  # sharers
            for index in range(rng.randint(2, 4)):
                self._person(household, rng.choice("MF"), rng.randint(18, 35), self._surname(), head=index == 0)
        # The last household is trimmed so the city has exactly the people asked for.
        while len(self.people) > self.target and len(household.members) > 1:
            household.members.pop()
            self.people.pop()
        household.needs = self._needs(household)

    def _needs(self, household: Household) -> tuple[str, ...]:
        if household.vulnerability == 0:
            return ()
        ages = [self.people[pid - 1].age_on(self.window.middle) for pid in household.members]
        weights = {
            "finances": 26, "work": 24, "housing": 10, "crime_asb": 10, "health": 14, "domestic_abuse": 5,
            "substance_use": 6, "school_attendance": 8 if any(5 <= a <= 16 for a in ages) else 0,
            "early_years": 6 if any(a <= 4 for a in ages) else 0,
            "childrens_safety": 6 if any(a <= 17 for a in ages) else 0,
        }
        if not any(18 <= a <= 66 for a in ages):
            weights["work"] = 0
        count = {1: 1, 2: 2, 3: self.rng.randint(3, 4)}[household.vulnerability]
        chosen: list[str] = []
        while len(chosen) < count and any(weights.values()):
            need = _weighted(self.rng, list(weights), list(weights.values()))
            chosen.append(need)
            weights[need] = 0
        return tuple(n for n in NEED_CATEGORIES if n in chosen)

    def _planted(self, family: PlantedFamily) -> None:
        household = Household(
            id=len(self.households) + 1, kind="planted", vulnerability=3, needs=family.needs, planted=family
        )
        self.households.append(household)
        end = self.window.end
        for index, member in enumerate(family.members):
            month, day = member.birthday
            dob = date(end.year - member.age - ((month, day) > (end.month, end.day)), month, day)
            person = Person(
                id=len(self.people) + 1, household=household.id, given=member.given, family=member.family,
                sex=member.sex, dob=dob, nhs=self._nhs_number(), head=index == 0,
            )
            self.people.append(person)
            household.members.append(person.id)

    # addresses

    def _addresses(self, wanted: int) -> None:
        rng = self.rng
        streets = [(stem, suffix) for stem in STREET_STEMS for suffix in STREET_SUFFIXES]
        rng.shuffle(streets)
        used_units: set[str] = set()
        uprn = 990_000_000_000 + rng.randrange(10_000_000)  # a range no real property has
        # A big city reuses street names in other districts, as real cities do.
        for stem, (suffix, short) in itertools.cycle(streets):
            if len(self.addresses) >= wanted:
                break
            district, locality = rng.choice(DISTRICTS)
            sector = rng.randint(1, 9)
            estate = rng.random() < 0.25
            flats = rng.random() < 0.15
            houses = rng.randint(8, 70)
            postcode = ""
            for position in range(houses):
                if position % rng.randint(10, 18) == 0 or not postcode:
                    postcode = self._new_postcode(district, sector, used_units)
                number = position + 1
                for flat in range(1, rng.randint(3, 8)) if flats and number % 2 else (None,):
                    uprn += rng.randint(1, 40)
                    self.addresses.append(
                        Address(
                            id=len(self.addresses) + 1,
                            number=number,
                            flat=flat,
                            street=f"{stem} {suffix}",
                            street_short=f"{stem} {short}",
                            locality=locality,
                            postcode=postcode,
                            uprn=str(uprn),
                            council=rng.random() < (0.7 if estate else 0.05),
                        )
                    )

    def _new_postcode(self, district: str, sector: int, used: set[str]) -> str:
        while True:
            letters = self.rng.choice(POSTCODE_UNIT_LETTERS) + self.rng.choice(POSTCODE_UNIT_LETTERS)
            unit = f"{district} {sector}{letters}"
            if unit not in used:
                used.add(unit)
                return unit

    def _place(self) -> None:
        """Put each household at an address (planted families in council homes); a few move once."""
        rng = self.rng
        order = list(range(1, len(self.addresses) + 1))
        rng.shuffle(order)
        used: set[int] = set()
        position = 0

        def take(council: bool = False) -> int:
            nonlocal position
            address = next((a for a in order if a not in used and self.addresses[a - 1].council), 0) if council else 0
            if not address:
                while order[position] in used:
                    position += 1
                address = order[position]
                self.addresses[address - 1].council |= council  # a small city may have too few council homes
            used.add(address)
            return address

        for household in self.households:
            household.moves.append((0, take(council=household.planted is not None)))
        for household in self.households:
            if household.planted is None and rng.random() < 0.03 and len(used) < len(order):
                household.moves.append((rng.randrange(30, self.window.days - 30), take()))


class _Demand:
    """True contacts: background demand for everyone, need-driven demand, planted families."""

    def __init__(self, rng: Random, city: _City, window: Window, progress: Progress | None):
        self.rng = rng
        self.city = city
        self.window = window
        self.progress = progress
        self.events: list[Event] = []
        self.start = datetime.combine(window.start, datetime.min.time())

    def run(self) -> list[Event]:
        households = self.city.households
        for index, household in enumerate(households, start=1):
            if household.planted:
                self._planted(household)
            else:
                self._household(household)
            if self.progress and (index % 500 == 0 or index == len(households)):
                self.progress("demand", index, len(households))
        return self.events

    # generic demand

    def _household(self, household: Household) -> None:
        rng = self.rng
        v = household.vulnerability
        council = self.city.addresses[household.moves[0][1] - 1].council
        people = [self.city.people[pid - 1] for pid in household.members]
        ages = {p.id: p.age_on(self.window.middle) for p in people}
        holders = {need: self._holders(need, people, ages) for need in household.needs}
        for person in people:
            age = ages[person.id]
            for spec in AGENCIES:
                if not spec.ages[0] <= age <= spec.ages[1] or (spec.head_only and not person.head):
                    continue
                factor = spec.female_factor if person.sex == "F" else 1.0
                for need, rate in spec.background:
                    if NEED_AGES[need][0] <= age <= NEED_AGES[need][1]:
                        lam = rate * factor * _age_factor(spec.code, need, age)
                        if spec.code == "HOUSING" and not (council and person.head):
                            lam = 0.0
                        for _ in range(_poisson(rng, lam)):
                            self._episode(spec, person, need, spec.repeat * VULNERABILITY_REPEAT[0], council)
                if not v:
                    continue
                drivers = spec.drivers or spec.needs
                for need in household.needs:
                    if need not in drivers or not NEED_AGES[need][0] <= age <= NEED_AGES[need][1]:
                        continue
                    lam = spec.need_rate * VULNERABILITY_RATE[v] * factor
                    if person.id not in holders[need]:
                        lam *= BYSTANDER_SHARE
                    if spec.code == "HOUSING" and not council:
                        lam *= 0.3  # only homelessness applications from people who are not tenants
                    for _ in range(_poisson(rng, lam)):
                        self._episode(spec, person, need, spec.repeat * VULNERABILITY_REPEAT[v], council,
                                      household.needs)

    def _holders(self, need: str, people: list[Person], ages: dict[int, int]) -> set[int]:
        """Who in the household has this need: the children for a child's need, the householder
        for money and housing, otherwise one member (a woman, more often, for domestic abuse)."""
        low, high = NEED_AGES[need]
        fitting = [p for p in people if low <= ages[p.id] <= high]
        if not fitting:
            return set()
        if need in CHILD_NEEDS:
            return {p.id for p in fitting}
        if need in ("finances", "housing"):
            return {people[0].id}
        if need == "domestic_abuse":
            adults = [p for p in fitting if ages[p.id] >= 16]
            fitting = [p for p in adults if p.sex == "F"] or adults or fitting
        return {self.rng.choice(fitting).id}

    def _episode(self, spec, person, need, repeat_mean, council, household_needs=()) -> None:
        rng = self.rng
        kinds = [k for k in spec.kinds if council or not k.tenants_only]
        if not any(need in k.needs for k in kinds):
            return
        day = rng.randrange(self.window.days)
        age = person.age_on(self.window.middle)
        phrase = _phrase(rng, need, age, person.sex, spec.code)
        # Other needs the agency may hear about on a follow-up (e.g. work at probation).
        others = [
            n
            for n in household_needs
            if n != need and any(n in k.needs for k in kinds) and NEED_AGES[n][0] <= age <= NEED_AGES[n][1]
        ]
        for _ in range(1 + _poisson(rng, repeat_mean)):
            if day >= self.window.days:
                break
            this_need, this_phrase = need, phrase
            if others and rng.random() < 0.3:
                this_need = rng.choice(others)
                this_phrase = _phrase(rng, this_need, age, person.sex, spec.code)
            elif rng.random() < 0.2:
                this_phrase = _phrase(rng, need, age, person.sex, spec.code)
            options = [k for k in kinds if this_need in k.needs]
            kind = _weighted(rng, options, [k.weight for k in options])
            self._add(spec, person.id, day, kind, this_need, this_phrase)
            day += 1 + int(rng.expovariate(1 / spec.gap_days))

    def _add(self, spec: AgencySpec, pid: int, day: int, kind: Kind, need: str, phrase: str) -> None:
        rng = self.rng
        if rng.random() < 0.04:
            phrase = ""  # not recorded
        self.events.append(
            Event(
                agency=spec.code,
                person=pid,
                when=self._when(spec, day),
                kind=kind.name,
                need=need,
                phrase=phrase,
                outcome=rng.choice(kind.outcomes),
                staff=rng.choice(kind.staff),
                seq=len(self.events),
            )
        )

    def _when(self, spec: AgencySpec, day: int) -> datetime:
        rng = self.rng
        moment = self.start + timedelta(days=day)
        if spec.hours in ("office", "sessions"):
            allowed = (0, 1, 2, 3, 4) if spec.hours == "office" else (0, 2, 4)
            step = 1 if day < self.window.days - 7 else -1
            while moment.weekday() not in allowed:
                moment += timedelta(days=step)
            hour = rng.randint(9, 16) if spec.hours == "office" else rng.randint(10, 13)
        elif spec.hours == "day":
            hour = rng.randint(8, 20)
        else:
            hour = rng.choices(_HOURS, cum_weights=_ANY_HOURS_CUMULATIVE)[0]
        return moment.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))

    # planted families

    def _planted(self, household: Household) -> None:
        rng = self.rng
        family = household.planted
        members = [self.city.people[pid - 1] for pid in household.members]
        first_day = self.window.days - RECENT_DAYS if family.recent else 0
        for code, count, weights in family.demand:
            spec = AGENCY_BY_CODE[code]
            subjects = [i for i, w in enumerate(weights) if w > 0]
            subjects += [_weighted(rng, range(len(weights)), weights) for _ in range(count - len(subjects))]
            for index in subjects:
                person = members[index]
                day = rng.randrange(first_day, self.window.days)
                age = person.age_on(self.start.date() + timedelta(days=day))
                need = self._planted_need(spec, family.needs, age)
                phrase = _phrase(rng, need, age, person.sex, code)
                kinds = [k for k in spec.kinds if need in k.needs]
                kind = _weighted(rng, kinds, [k.weight for k in kinds])
                self._add(spec, person.id, day, kind, need, phrase)
        for code, index, days_before_end, kind_name, phrase in family.fixed:
            spec = AGENCY_BY_CODE[code]
            kind = next(k for k in spec.kinds if k.name == kind_name)
            self._add(spec, members[index].id, self.window.days - 1 - days_before_end, kind, NEED_PHRASES[phrase],
                      phrase)

    def _planted_need(self, spec: AgencySpec, needs: tuple[str, ...], age: int) -> str:
        served = [n for n in needs if n in spec.needs]
        fitting = [n for n in served if NEED_AGES[n][0] <= age <= NEED_AGES[n][1]]
        return self.rng.choice(fitting or served or sorted(spec.needs))


# Police, ambulance and ED demand peaks in the evening and is lowest before dawn.
_ANY_HOURS = (3, 3, 2, 2, 1, 1, 2, 3, 4, 5, 5, 6, 6, 6, 6, 6, 7, 7, 8, 8, 8, 7, 5, 4)
_ANY_HOURS_CUMULATIVE = tuple(itertools.accumulate(_ANY_HOURS))
_HOURS = tuple(range(24))


def _age_factor(code: str, need: str, age: int) -> float:
    if need != "health":
        return 1.0
    if code == "ASC":
        return 10.0 if age >= 75 else 3.0 if age >= 65 else 0.3
    if code == "FIRE":
        return 4.0 if age >= 65 else 0.3
    return 3.0 if age >= 75 else 1.8 if age >= 65 else 1.5 if age < 5 else 1.0


def _phrase(rng: Random, need: str, age: int, sex: str, agency: str) -> str:
    texts, cumulative = _phrases_for(need, age, sex, agency)
    return rng.choices(texts, cum_weights=cumulative)[0]


@functools.cache
def _phrases_for(need: str, age: int, sex: str, agency: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The phrases an agency might record for this need about someone of this age and sex,
    with cumulative weights. Falls back to fewer constraints when nothing fits."""
    phrases = PHRASES_BY_NEED[need]
    here = [p for p in phrases if not p.at or agency in p.at]
    fitting = [p for p in here if p.ages[0] <= age <= p.ages[1] and p.sex in ("", sex)] or here or phrases
    return tuple(p.text for p in fitting), tuple(itertools.accumulate(p.weight for p in fitting))


# --- recording: each agency's view ------------------------------------------------------


@dataclass
class Identity:
    """How one agency has written one person down."""

    given: str
    family: str
    dob: str
    sex: str
    nhs: str
    address_style: int
    postcode_style: int
    postcode_typo: int  # 0: none; otherwise seeds which character is mistyped


_KEYBOARD = "qwertyuiop asdfghjkl zxcvbnm"


def typo(rng: Random, text: str) -> str:
    """One plausible keying error (substitute a neighbouring key, drop, double or swap a letter)."""
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text))  # the first letter is rarely wrong
    action = rng.randrange(4)
    if action == 0 and text[i].isalpha():
        row = next((r for r in _KEYBOARD.split() if text[i].lower() in r), "")
        j = row.index(text[i].lower())
        near = [row[k] for k in (j - 1, j + 1) if 0 <= k < len(row)]
        new = rng.choice(near)
        return text[:i] + (new.upper() if text[i].isupper() else new) + text[i + 1 :]
    if action == 1 and len(text) > 3:
        return text[:i] + text[i + 1 :]
    if action == 2:
        return text[:i] + text[i] + text[i:]
    if i < len(text) - 1:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:-2] + text[-1] + text[-2]


def postcode_typo(postcode: str, key: int) -> str:
    """Mistype one character of a canonical postcode, chosen by ``key``."""
    rng = Random(key)
    positions = [p for p in range(len(postcode)) if postcode[p] != " " and p >= 2]
    p = rng.choice(positions)
    char = postcode[p]
    if char.isdigit():
        new = str((int(char) + rng.choice((1, -1))) % 10)
    else:
        new = rng.choice([c for c in POSTCODE_UNIT_LETTERS if c != char])
    return postcode[:p] + new + postcode[p + 1 :]


def postcode_style(postcode: str, style: int) -> str:
    outward, inward = postcode.split(" ")
    if style == 1:
        return outward + inward
    if style == 2:
        return postcode.lower()
    if style == 3:
        return f"{outward}  {inward}"
    return postcode


class _Recorder:
    """Turns true contacts into each agency's rows, and keeps the truth."""

    def __init__(self, rng: Random, city: _City, window: Window):
        self.rng = rng
        self.city = city
        self.window = window
        self.given_variants = {g[0]: g[3] for g in GIVEN_NAMES}
        self.family_variants = {s[0]: s[2] for s in SURNAMES}
        self.overrides: dict[tuple[str, int], dict] = {}
        for household in city.households:
            if household.planted:
                for code, index, fields in household.planted.overrides:
                    self.overrides[(code, household.members[index])] = fields

    def record(self, events: list[Event], progress: Progress | None = None):
        rng = self.rng
        by_agency: dict[str, dict[int, list[Event]]] = {a.code: defaultdict(list) for a in AGENCIES}
        for event in sorted(events, key=lambda e: (e.when, e.seq)):
            by_agency[event.agency][event.person].append(event)
        rows: dict[str, list[list[str]]] = {}
        truth_refs: list[tuple[str, str, str, str, str]] = []
        truth_contacts: list[tuple[str, str, str, str, str]] = []
        for done, spec in enumerate(AGENCIES):
            if progress:
                progress("records", done, len(AGENCIES))
            per_person = by_agency[spec.code]
            # (first contact, person, copy) -> identity and contacts; copy 1 is a within-agency duplicate.
            records: list[tuple[Event, int, int, Identity, list[Event]]] = []
            for pid in sorted(per_person):
                contacts = per_person[pid]
                person = self.city.people[pid - 1]
                override = self.overrides.get((spec.code, pid), {})
                main = self._identity(spec, person, 1.5 if override or self._is_planted(person) else 1.0)
                self._apply(main, person, override)
                split = None
                if len(contacts) > 1 and (override.get("duplicate") or rng.random() < spec.duplicates * 2):
                    split = rng.randint(1, len(contacts) - 1)
                if split is None:
                    records.append((contacts[0], pid, 0, main, contacts))
                    continue
                # Once a second record exists, staff find one or the other.
                second = self._identity(spec, person, 3.0)
                firsts, seconds = list(contacts[:split]), [contacts[split]]
                for event in contacts[split + 1 :]:
                    (seconds if rng.random() < 0.7 else firsts).append(event)
                records.append((firsts[0], pid, 0, main, firsts))
                records.append((seconds[0], pid, 1, second, seconds))
            records.sort(key=lambda r: (r[0].when, r[0].seq, r[2]))
            refs = self._refs(spec, records)
            agency_rows: list[tuple[Event, list[str]]] = []
            for (_, pid, _copy, identity, contacts), ref in zip(records, refs, strict=True):
                household = self.city.households[self.city.people[pid - 1].household - 1]
                last_address = 0
                for event in contacts:
                    day = (event.when.date() - self.window.start).days
                    last_address = household.address_on(day)
                    agency_rows.append((event, self._row(spec, ref, identity, event, last_address)))
                truth_refs.append(
                    (spec.code, ref, person_key(pid), household_key(household.id), address_key(last_address))
                )
            agency_rows.sort(key=lambda r: (r[0].when, r[0].seq))
            number = rng.randint(10_000, 500_000)
            for event, row in agency_rows:
                number += rng.randint(1, 3)
                row[0] = spec.record_id.format(number)
                household = self.city.people[event.person - 1].household
                truth_contacts.append(
                    (spec.code, row[0], person_key(event.person), household_key(household), event.need)
                )
            rows[spec.code] = [row for _, row in agency_rows]
        if progress:
            progress("records", len(AGENCIES), len(AGENCIES))
        truth_refs.sort()
        return rows, truth_refs, truth_contacts

    def _is_planted(self, person: Person) -> bool:
        return self.city.households[person.household - 1].planted is not None

    def _refs(self, spec: AgencySpec, records) -> list[str]:
        rng = self.rng
        if spec.code == "HOUSING":
            # Tenancy-person refs: the tenancy of the address first seen, then the person on it.
            tenancies: dict[int, int] = {}
            taken: set[int] = set()
            members: Counter = Counter()
            refs = []
            for first, pid, _copy, _identity, _contacts in records:
                household = self.city.households[self.city.people[pid - 1].household - 1]
                address = household.address_on((first.when.date() - self.window.start).days)
                if address not in tenancies:
                    number = rng.randrange(100_000, 1_000_000)
                    while number in taken:
                        number = rng.randrange(100_000, 1_000_000)
                    tenancies[address] = number
                    taken.add(number)
                members[address] += 1
                refs.append(spec.person_ref.format(tenancy=tenancies[address], member=members[address]))
            return refs
        number = rng.randint(1_000, 200_000)
        refs = []
        for _ in records:
            number += rng.randint(1, 6)
            refs.append(spec.person_ref.format(number))
        return refs

    def _identity(self, spec: AgencySpec, person: Person, noise: float) -> Identity:
        rng = self.rng
        given, family = person.given, person.family
        variants = self.given_variants.get(given, ())
        if variants and rng.random() < spec.nickname * noise:
            given = rng.choice(variants)
        if rng.random() < 0.02 * noise:
            given = typo(rng, given)
        surnames = self.family_variants.get(family, ())
        if surnames and rng.random() < 0.05 * noise:
            family = rng.choice(surnames)
        if rng.random() < 0.02 * noise:
            family = typo(rng, family)
        if rng.random() < spec.upper_family:
            family = family.upper()
        if rng.random() < 0.006 * noise:
            given, family = family, given
        r = rng.random()
        dob = person.dob
        missing = spec.no_dob * max(1.0, noise / 1.5)
        if r < missing:
            dob_text = ""
        else:
            r -= missing
            if r < 0.015 * noise:
                dob = self._dob_swap(dob)
            elif r < 0.03 * noise:
                dob = self._dob_year(dob)
            elif r < 0.038 * noise:
                dob = self._dob_day(dob)
            dob_text = dob.isoformat()
        sex = "" if rng.random() < spec.no_sex else spec.sex_codes[0 if person.sex == "M" else 1]
        address_style = spec.address_style
        if rng.random() < spec.style_drift:
            address_style = rng.randrange(ADDRESS_STYLES)
        pc_style = spec.postcode_style
        if rng.random() < spec.style_drift:
            pc_style = rng.randrange(POSTCODE_STYLES)
        return Identity(
            given=given,
            family=family,
            dob=dob_text,
            sex=sex,
            nhs=person.nhs if rng.random() < spec.nhs else "",
            address_style=address_style,
            postcode_style=pc_style,
            postcode_typo=rng.randrange(1, 1 << 30) if rng.random() < 0.015 * noise else 0,
        )

    def _apply(self, identity: Identity, person: Person, override: dict) -> None:
        """Set the fields a planted family's story needs, e.g. "Jon SMITH, no date of birth"."""
        if "given" in override:
            identity.given = override["given"]
        if "family" in override:
            identity.family = override["family"]
        how = override.get("dob")
        if how == "none":
            identity.dob = ""
        elif how == "exact":
            identity.dob = person.dob.isoformat()
        elif how == "swap":
            identity.dob = self._dob_swap(person.dob).isoformat()
        elif how == "year":
            identity.dob = self._dob_year(person.dob).isoformat()

    def _dob_swap(self, dob: date) -> date:
        if dob.day <= 12 and dob.day != dob.month:
            swapped = date(dob.year, dob.day, dob.month)
            if swapped <= self.window.start:
                return swapped
        return self._dob_day(dob)

    def _dob_year(self, dob: date) -> date:
        step = self.rng.choice((1, -1))
        moved = _replace_year(dob, dob.year + step)
        return moved if moved <= self.window.start else _replace_year(dob, dob.year - 1)

    def _dob_day(self, dob: date) -> date:
        return dob - timedelta(days=self.rng.choice((1, 10)))

    def _row(self, spec: AgencySpec, ref: str, identity: Identity, event: Event, address_id: int) -> list[str]:
        rng = self.rng
        address = self.city.addresses[address_id - 1]
        given, dob, pc_style = identity.given, identity.dob, identity.postcode_style
        if rng.random() < 0.02:  # a small slip on this one record
            slip = rng.randrange(3)
            if slip == 0:
                dob = ""
            elif slip == 1:
                given = self.city.people[event.person - 1].given
            else:
                pc_style = rng.randrange(POSTCODE_STYLES)
        postcode = address.postcode
        if identity.postcode_typo:
            postcode = postcode_typo(postcode, identity.postcode_typo + address_id)
        return [
            "",  # record_id, numbered once the agency's rows are in time order
            ref,
            event.when.isoformat(timespec="seconds"),
            event.kind,
            given,
            identity.family,
            dob,
            identity.sex,
            address.line(identity.address_style),
            postcode_style(postcode, pc_style),
            address.uprn if spec.uprn and rng.random() < spec.uprn else "",
            identity.nhs,
            event.phrase,
            event.outcome,
            event.staff,
            spec.source_system,
        ]


def _replace_year(day: date, year: int) -> date:
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February
        return day.replace(year=year, day=28)


def _families(city: _City, events: list[Event], rows, truth_refs) -> list[dict]:
    """The planted families: true contact counts per agency, and how each agency has each member."""
    counts: dict[int, Counter] = defaultdict(Counter)
    for event in events:
        counts[city.people[event.person - 1].household][event.agency] += 1
    planted = {person_key(pid) for h in city.households if h.planted for pid in h.members}
    person_of = {(code, ref): person for code, ref, person, _, _ in truth_refs if person in planted}
    recorded: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for code, agency_rows in rows.items():
        for row in agency_rows:
            person = person_of.get((code, row[1]))
            if person:
                seen = f"{row[1]}: {row[4]} {row[5]}, born {row[6] or 'not recorded'}"
                if seen not in recorded[person][code]:
                    recorded[person][code].append(seen)
    families = []
    for household in city.households:
        family = household.planted
        if family is None:
            continue
        per_agency = {code: counts[household.id][code] for code in AGENCY_BY_CODE if counts[household.id][code]}
        families.append(
            {
                "key": family.key,
                "kind": family.kind,
                "true_household_id": household_key(household.id),
                "true_address_id": address_key(household.moves[0][1]),
                "description": family.description,
                "members": [
                    {
                        "true_person_id": person_key(pid),
                        "name": f"{city.people[pid - 1].given} {city.people[pid - 1].family}",
                        "date_of_birth": city.people[pid - 1].dob.isoformat(),
                        "agencies": len(recorded[person_key(pid)]),
                        "recorded_as": {
                            code: recorded[person_key(pid)][code]
                            for code in AGENCY_BY_CODE
                            if code in recorded[person_key(pid)]
                        },
                    }
                    for pid in household.members
                ],
                "contacts": sum(per_agency.values()),
                "contacts_by_agency": per_agency,
            }
        )
    return families


# --- writing ----------------------------------------------------------------------------


@dataclass
class Written:
    out_dir: Path
    agency_files: dict[str, Path]
    truth: Path
    truth_contacts: Path
    truth_families: Path
    truth_needs: Path


def write(demo: Demo, out_dir: Path, truth_path: Path | None = None) -> Written:
    """Write one contact CSV per agency, and the truth files, into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for spec in AGENCIES:
        path = out_dir / f"{spec.code}.csv"
        _write_csv(path, HEADER, demo.rows[spec.code])
        files[spec.code] = path
    truth = truth_path or out_dir / "truth.csv"
    truth.parent.mkdir(parents=True, exist_ok=True)
    _write_csv(truth, ("agency", "person_ref", "true_person_id", "true_household_id", "true_address_id"),
               demo.truth_refs)
    contacts = out_dir / "truth_contacts.csv"
    _write_csv(contacts, ("agency", "record_id", "true_person_id", "true_household_id", "need_category"),
               demo.truth_contacts)
    needs = out_dir / "truth_needs.csv"
    _write_csv(needs, ("presenting_need", "need_category"), [(p.text, p.need) for p in PHRASES])
    families = out_dir / "truth_families.json"
    payload = {
        "seed": demo.seed,
        "window": {"start": demo.window.start.isoformat(), "end": demo.window.end.isoformat()},
        "families": demo.families,
    }
    families.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return Written(out_dir, files, truth, contacts, families, needs)


def _write_csv(path: Path, header, rows) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
