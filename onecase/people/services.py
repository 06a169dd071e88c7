"""Writes to people and their links. Linkage output only: agency people are never changed.

These are the building blocks reviewers' decisions use (see onecase/linkage/services.py);
they check no permission themselves and expect to run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record
from onecase.people.models import Household, Person, PersonLink
from onecase.people.rules import may_mark_vip


def person_create() -> Person:
    """A new, empty person."""
    return Person.objects.create()


@transaction.atomic
def links_move(
    *, links: Iterable[PersonLink], person: Person, method: str, actor=None, probability: float | None = None
) -> tuple[list[PersonLink], list[PersonLink]]:
    """Move active ``links`` to ``person``: each is undone and a new link made. Returns (undone, created)."""
    now = timezone.now()
    actor = actor if getattr(actor, "is_authenticated", False) else None
    undone, created = [], []
    for link in links:
        if link.undone_at is not None:
            continue
        link.undone_at = now
        link.undone_by = actor
        link.save(update_fields=["undone_at", "undone_by"])
        undone.append(link)
        created.append(
            PersonLink.objects.create(
                agency_person_id=link.agency_person_id,
                person=person,
                match_probability=link.match_probability if probability is None else probability,
                method=method,
                address_id=link.address_id,
                created_by=actor,
            )
        )
    return undone, created


def links_restore(*, links: Iterable[PersonLink], actor=None) -> list[PersonLink]:
    """Make new active links copying ``links`` (person, probability, method, address)."""
    actor = actor if getattr(actor, "is_authenticated", False) else None
    return [
        PersonLink.objects.create(
            agency_person_id=link.agency_person_id,
            person_id=link.person_id,
            match_probability=link.match_probability,
            method=link.method,
            address_id=link.address_id,
            created_by=actor,
        )
        for link in links
    ]


def links_undo(*, links: Iterable[PersonLink], actor=None) -> None:
    actor = actor if getattr(actor, "is_authenticated", False) else None
    PersonLink.objects.filter(pk__in=[link.pk for link in links], undone_at__isnull=True).update(
        undone_at=timezone.now(), undone_by=actor
    )


def person_refresh_household(person: Person) -> Household | None:
    """Set ``person``'s household to the address of their most recently recorded agency person."""
    links = (
        PersonLink.objects.filter(person=person, undone_at__isnull=True, address__isnull=False)
        .select_related("agency_person")
        .order_by(F("agency_person__identity_as_of").desc(nulls_last=True), "-agency_person_id")
    )
    household = None
    for link in links:
        household, _ = Household.objects.get_or_create(address_id=link.address_id)
        break
    if person.household_id != (household.pk if household else None):
        person.household = household
        person.save(update_fields=["household"])
    return household


@transaction.atomic
def person_vip_set(*, actor, person: Person, vip: bool, ip=None) -> Person:
    """Mark ``person`` for extra protection, or lift it: every view of them by someone without a
    case or pull-in link to them then alerts the DPOs (``sharing.services.anomaly_alerts_raise``)."""
    if actor is not None and not may_mark_vip(actor):
        raise PermissionDenied("Only the partnership marks people for extra protection.")
    person = Person.objects.select_for_update().get(pk=person.pk)
    if person.vip != vip:
        person.vip = vip
        person.save(update_fields=["vip"])
        audit_record(user=actor, action=AuditEvent.Action.CHANGE, object_type="person", object_id=person.pk,
                     ip=ip, detail={"extra_protection": vip})
    return person
