"""Disclosure rules: how much of another agency's records a user may see, and on what basis.

Evaluated at query time on every request, so an agreement that ends or is revoked blocks
the very next request, in existing sessions too.
"""

from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from onecase.accounts.models import Role
from onecase.accounts.rules import is_staff_member, sees_people, sees_whole_partnership
from onecase.people.models import PersonLink
from onecase.sharing.models import (
    Agreement,
    BreakGlass,
    BreakGlassRole,
    DataCategory,
    DisclosureRequest,
    Purpose,
    Tier,
)
from onecase.sharing.purposes import EVERYDAY, purpose_label, work_purposes


@dataclass(frozen=True)
class Disclosure:
    tier: Tier
    agreement: Agreement | None = None
    basis: str = ""  # "own agency", "agreement", "approved request", "break the glass", "signpost"
    purpose: str = ""  # the Purpose code an agreement was relied on for
    purpose_source: str = ""  # the work that carries that purpose: "everyday work", "case C-000012", …

    @property
    def purpose_label(self) -> str:
        return purpose_label(self.purpose) if self.purpose else ""

    @property
    def relied_on(self) -> str:
        """The agreement and purpose relied on, in words: "" when none was needed."""
        if self.agreement is None:
            return ""
        label = self.purpose_label
        return f"{self.agreement.reference}, for {label[:1].lower()}{label[1:]} ({self.purpose_source})"


_memo: ContextVar[dict | None] = ContextVar("onecase_sharing_memo", default=None)


@contextmanager
def rules_remembered():
    """Within the block, the agreements in force and what identifies people to each user are read
    once: for one read (a page, a search) that asks these rules many times. Nested blocks share
    the outermost; nothing is kept after it, so the next request sees every change."""
    if _memo.get() is not None:
        yield
        return
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def _remembered(key: tuple, compute: Callable):
    memo = _memo.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def _user_key(user) -> tuple:
    return (user.pk, user.agency_id, user.role)


def _agency_agreements(agency_id: int) -> list[Agreement]:
    """Agreements in force today to which ``agency_id`` is a party, with their parties, by reference."""
    on = timezone.localdate()
    return _remembered(("agreements", agency_id, on), lambda: list(
        _in_force(on).filter(parties__agency_id=agency_id).distinct().prefetch_related("parties")
        .order_by("reference")
    ))


def _agreement_purpose(agreement: Agreement, purposes: dict[str, str]) -> str | None:
    """The first of ``purposes`` (in the order of ``Purpose``) that ``agreement`` lists, if any."""
    listed = set(agreement.purpose_codes or [])
    return next((code for code in Purpose.values if code in listed and code in purposes), None)


def agreements_in_force(*, between: tuple[int, int], on=None):
    """Agreements in force on ``on`` (today) to which both agencies are parties."""
    first, second = between
    return _in_force(on).filter(parties__agency_id=first).filter(parties__agency_id=second).distinct()


def _in_force(on=None):
    """Agreements not revoked and in date on ``on`` (today)."""
    on = on or timezone.localdate()
    return Agreement.objects.filter(revoked_at__isnull=True, starts_on__lte=on).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=on)
    )


def disclosure_for(user, owner_agency_id: int, *, person_id: int | None = None,
                   category: str = DataCategory.IDENTITY, purposes: dict[str, str] | None = None) -> Disclosure:
    """The tier of ``owner_agency_id``'s records of ``category`` that ``user`` may see, for
    ``purposes``, and the agreement, purpose and basis relied on.

    What is disclosed and why both bound it: an agreement raises the tier only for the data
    categories it lists (``category``: identity by default, the question every page asks first)
    and only for a purpose it lists. ``purposes`` ({purpose: the work carrying it}) are those of
    the case, pull-in or meeting being worked; the everyday purpose always applies. With no
    agreement in force the most another agency's staff can see is a signpost. An approved request
    or break-the-glass for ``person_id`` raises it to full.
    """
    return disclosures_for(user, owner_agency_id, person_id=person_id, categories=(category,),
                           purposes=purposes)[category]


def disclosures_for(user, owner_agency_id: int, *, person_id: int | None = None,
                    categories=tuple(DataCategory.values), purposes: dict[str, str] | None = None
                    ) -> dict[str, Disclosure]:
    """``disclosure_for`` for several data categories at once: {category: Disclosure}."""
    if not sees_people(user):
        return dict.fromkeys(categories, Disclosure(Tier.NONE))
    if sees_whole_partnership(user) or owner_agency_id == user.agency_id:
        return dict.fromkeys(categories, Disclosure(Tier.FULL, basis="own agency"))
    if user.agency_id is None:
        return dict.fromkeys(categories, Disclosure(Tier.NONE))
    now = timezone.now()
    base = _by_agreement(user, owner_agency_id, categories, {**EVERYDAY, **(purposes or {})})
    if person_id is not None:
        if BreakGlass.objects.filter(user=user, person_id=person_id, expires_at__gt=now).exists():
            return dict.fromkeys(categories, Disclosure(Tier.FULL, basis="break the glass"))
        approved = DisclosureRequest.objects.filter(
            requested_by=user,
            person_id=person_id,
            owner_agency_id=owner_agency_id,
            status=DisclosureRequest.Status.APPROVED,
            expires_at__gt=now,
        ).first()
        if approved is not None:
            return {c: Disclosure(max(Tier(approved.tier), d.tier), d.agreement, "approved request",
                                  d.purpose, d.purpose_source) for c, d in base.items()}
    return base


def _by_agreement(user, owner_agency_id: int, categories, purposes: dict[str, str]) -> dict[str, Disclosure]:
    best = dict.fromkeys(categories, Disclosure(Tier.SIGNPOST, basis="signpost"))
    for agreement in _agency_agreements(user.agency_id):
        parties = agreement.parties.all()
        if not any(p.agency_id == owner_agency_id for p in parties):
            continue  # the owning agency is no party to it
        purpose = _agreement_purpose(agreement, purposes)
        if purpose is None:
            continue  # not an agreement for the work in hand
        receiving = next(p for p in parties if p.agency_id == user.agency_id)
        for category in categories:
            # An agreement that does not list a category shows no more than a signpost of it.
            if category in (agreement.data_categories or []) and receiving.max_tier > best[category].tier:
                best[category] = Disclosure(Tier(receiving.max_tier), agreement, "agreement", purpose,
                                            purposes[purpose])
    return best


def identity_agency_ids(user) -> frozenset[int] | None:
    """Agencies whose records may identify a person to ``user`` (None: every agency).

    The one rule for what identifies a person: a name, address, date of birth or agency
    involvement reaches a viewer only from a record their own agency holds, or from an agency
    whose tier for them is at least summary under an agreement in force that covers identity.
    Raises for one person (an approved request, break the glass) are added by
    ``identity_raised_for``.
    """
    if not sees_people(user):
        return frozenset()
    if sees_whole_partnership(user):
        return None
    if user.agency_id is None:
        return frozenset()
    return _remembered(("identity", *_user_key(user)), lambda: _identity_agency_ids(user))


def _identity_agency_ids(user) -> frozenset[int]:
    found = {user.agency_id}
    for agreement in _identifying_agreements(user):
        if _agreement_purpose(agreement, EVERYDAY) is not None:
            found.update(p.agency_id for p in agreement.parties.all())
    return frozenset(found)


def _identifying_agreements(user) -> list[Agreement]:
    """Agreements in force under which ``user``'s agency sees identity at summary tier or above."""
    found = []
    for agreement in _agency_agreements(user.agency_id):
        receiving = next(p for p in agreement.parties.all() if p.agency_id == user.agency_id)
        if DataCategory.IDENTITY in (agreement.data_categories or []) and receiving.max_tier >= Tier.SUMMARY:
            found.append(agreement)
    return found


def identity_raised_for(user) -> dict[int, frozenset[int] | None]:
    """{person id: agencies (None: every agency)} whose records identify that person to ``user``
    because of an approved disclosure request or break the glass in force now, or because an
    agreement covers the purpose of a case, pull-in or meeting ``user`` works on about them."""
    if not sees_people(user) or sees_whole_partnership(user) or user.agency_id is None:
        return {}
    return _remembered(("raised", *_user_key(user)), lambda: _identity_raised_for(user))


def _identity_raised_for(user) -> dict[int, frozenset[int] | None]:
    now = timezone.now()
    raised: dict[int, frozenset[int] | None] = {}
    work = work_purposes(user)
    if work:
        agreements = [a for a in _identifying_agreements(user) if _agreement_purpose(a, EVERYDAY) is None]
        for person_id, purposes in work.items():
            agencies = {p.agency_id for a in agreements if _agreement_purpose(a, purposes) for p in a.parties.all()}
            if agencies:
                raised[person_id] = frozenset(agencies)
    for request in DisclosureRequest.objects.filter(
        requested_by=user, status=DisclosureRequest.Status.APPROVED, expires_at__gt=now, tier__gte=Tier.SUMMARY
    ).values("person_id", "owner_agency_id"):
        current = raised.get(request["person_id"], frozenset())
        raised[request["person_id"]] = current | {request["owner_agency_id"]}
    for person_id in BreakGlass.objects.filter(user=user, expires_at__gt=now).values_list("person_id", flat=True):
        raised[person_id] = None
    return raised


def may_manage_agreements(user) -> bool:
    return sees_whole_partnership(user)


def may_read_audit(user) -> bool:
    return is_staff_member(user) and (sees_whole_partnership(user) or user.role in {Role.DPO, Role.AUDITOR})


def may_see_access_history(user, person_id: int) -> bool:
    """The partnership, auditors, and the DPO of an agency holding records about the person."""
    if not may_read_audit(user):
        return False
    if sees_whole_partnership(user) or user.role == Role.AUDITOR:
        return True
    return PersonLink.objects.filter(
        person_id=person_id, undone_at__isnull=True, agency_person__agency_id=user.agency_id
    ).exists()


# Roles that a partnership may allow to break the glass. Analysts and auditors never see
# person-level records, and partnership administrators see every agency's already.
BREAK_GLASS_ROLES = (Role.KEY_WORKER, Role.PRACTITIONER, Role.FRONT_DOOR, Role.AGENCY_ADMIN, Role.DPO,
                     Role.VOLUNTARY_PARTNER)


def may_break_glass(user) -> bool:
    """May ``user`` break the glass? Only in a role the partnership allows at their agency.

    Read on every request, so switching a role off refuses its very next attempt.
    """
    if not is_staff_member(user) or user.role not in BREAK_GLASS_ROLES or user.agency_id is None:
        return False
    if sees_whole_partnership(user):
        return False
    return BreakGlassRole.objects.filter(agency_id=user.agency_id, role=user.role, allowed=True).exists()


def may_manage_break_glass(user) -> bool:
    """Partnership administrators decide which roles at which agencies may break the glass."""
    return sees_whole_partnership(user)


# The owning agency's administrators and DPOs decide its disclosure requests: the agency that holds
# the records answers for sharing them, so the partnership administrator does not decide for it.
DECIDING_ROLES = {Role.AGENCY_ADMIN, Role.DPO}


def may_decide_request(user, request: DisclosureRequest) -> bool:
    """Only the owning agency's administrator or DPO decides."""
    if not is_staff_member(user):
        return False
    return user.agency_id == request.owner_agency_id and user.role in DECIDING_ROLES


def may_export_sar(user, person_id: int) -> bool:
    """Subject access requests are answered by a DPO of an agency holding records, or the partnership."""
    if not is_staff_member(user):
        return False
    if sees_whole_partnership(user):
        return True
    return user.role == Role.DPO and PersonLink.objects.filter(
        person_id=person_id, undone_at__isnull=True, agency_person__agency_id=user.agency_id
    ).exists()
