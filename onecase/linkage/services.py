"""Linkage writes: running linkage, and reviewers' decisions about it.

Each decision checks permission (onecase/linkage/rules.py), records who and when, takes
effect at once, writes an audit event in the same transaction, and is respected by every
later link run, full or incremental: confirmed pairs stay together, rejected and split
records stay apart. Decisions are undone, never deleted. Agency people are never changed.
Review items and decisions carry a version: a reviewer's page names the one it showed
(``expected_version``) and a stale decision is refused with ``Conflict``.
The contacts of the people a decision changes follow it at once (their person, household
and failure demand), as they follow a link run.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from onecase.concurrency import check_version, lock
from onecase.exports import csv_writer
from onecase.linkage import jobs
from onecase.linkage.models import DecisionPair, LinkDecision, LinkRequest, LinkRun, ReviewItem
from onecase.linkage.rules import may_review_linkage, may_review_records, may_run_linkage
from onecase.people.models import AgencyPerson, Person, PersonLink
from onecase.people.services import (
    links_move,
    links_restore,
    links_undo,
    person_create,
    person_refresh_household,
)
from onecase.sharing.models import AuditEvent
from onecase.sharing.services import audit_record


def link_run(*, actor, full: bool = False, engine=None, progress=None, started=None) -> LinkRun:
    """Link every agency person to a person and every person to a household.

    Incremental unless ``full`` (or nothing is linked yet). ``actor`` None is the command
    line. Writes in one transaction; raises ``LinkageConflict`` if reviewers decided
    something while the run was scoring (nothing is written; run again). ``started(run)``
    is called once the run's ``LinkRun`` row exists. To link soon after new records arrive,
    one run at a time, use ``link_soon`` (queued) or ``link_now`` (in this process).
    """
    if actor is not None and not may_run_linkage(actor):
        raise PermissionDenied("Only partnership administrators may run linkage.")
    from onecase.contacts.services import demand_classify, needs_classify
    from onecase.linkage.run import Runner

    runner = Runner(actor=actor, full=full, engine=engine, progress=progress, started=started)
    run = runner.run()
    if progress is not None:
        progress("demand")
    # Contacts imported or logged since the last run are placed in need categories (imports load
    # rows as sent, at copy speed); then the run gave contacts their person and household, and
    # repeats are judged across them (after an incremental run, among the people and households
    # whose contacts it moved or that changed, which include every contact placed here).
    needs_classify(actor=actor, updated_since=runner.previous.started_at if runner.previous else None)
    demand_classify(actor=actor, **(runner.demand_scope or {}))
    return run


@transaction.atomic
def link_soon(*, reason: str) -> LinkRequest:
    """Link the new and changed agency people soon, after the caller's transaction commits.

    Call in the transaction that wrote the records (an import, a contact logged): the job worker
    then runs an incremental link, one at a time; a request made while one waits joins it, and
    one made while a link runs is linked by the next. ``reason`` says in plain words what asked
    (no personal data). Returns the request, whose status and run say how linking went. The
    caller has already been permitted to write the records; linking them is the partnership's work.
    """
    return jobs.request_link(reason=reason)


def link_now(*, reason: str, full: bool = False, progress=None, waiting=None, engine=None) -> LinkRequest:
    """Link new and changed agency people (or everyone, ``full``) in this process, for the command line,
    on ``engine`` (DuckDB unless given, e.g. a ``SparkEngine``).

    Waits for a link running elsewhere to finish first (``waiting()`` is called once if so); one
    link at a time, as for ``link_soon``. Returns the request, finished (``run`` holds the run) or
    failed (``message`` says why, in plain words). Not in a transaction: it commits as it goes.
    """
    return jobs.link_in_process(reason=reason, full=full, progress=progress, waiting=waiting, engine=engine)


def _active_link(agency_person: AgencyPerson) -> PersonLink:
    link = PersonLink.objects.select_for_update().filter(agency_person=agency_person, undone_at__isnull=True).first()
    if link is None:
        raise ValidationError("This agency person is not linked yet; run linkage first.")
    return link


def _ordered(a: AgencyPerson, b: AgencyPerson) -> tuple[AgencyPerson, AgencyPerson]:
    if a.pk == b.pk:
        raise ValidationError("Choose two different agency people.")
    return (a, b) if a.pk < b.pk else (b, a)


def _pair_args(item: ReviewItem | None, agency_person, other) -> tuple[AgencyPerson, AgencyPerson]:
    if item is not None:
        if item.status != ReviewItem.Status.OPEN:
            raise ValidationError("This review item has already been decided.")
        return item.agency_person_a, item.agency_person_b
    if agency_person is None or other is None:
        raise ValidationError("Give a review item, or two agency people.")
    return _ordered(agency_person, other)


def _apart_pairs(left: Iterable[int], right: Iterable[int]) -> list[tuple[int, int]]:
    """Active "keep apart" constraints between any record of ``left`` and any of ``right``."""
    left, right = set(left), set(right)
    pairs = DecisionPair.objects.filter(decision__undone_at__isnull=True, together=False).filter(
        agency_person_a__in=left | right, agency_person_b__in=left | right
    ).values_list("agency_person_a_id", "agency_person_b_id")
    return [(a, b) for a, b in pairs if (a in left and b in right) or (a in right and b in left)]


def _decision(*, actor, kind, agency_person, other=None, item=None, note="", pairs=()) -> LinkDecision:
    decision = LinkDecision.objects.create(
        kind=kind, agency_person=agency_person, other=other, review_item=item, note=note,
        decided_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    DecisionPair.objects.bulk_create(
        DecisionPair(decision=decision, agency_person_a_id=min(a, b), agency_person_b_id=max(a, b), together=t)
        for a, b, t in pairs
    )
    return decision


def _audit(actor, decision: LinkDecision, detail: dict) -> None:
    audit_record(
        user=actor, action=AuditEvent.Action.CHANGE, object_type="link_decision", object_id=decision.pk,
        detail={"kind": decision.kind, **detail},
    )


def _contacts_follow(*, actor, person_ids: Iterable[int]) -> None:
    """After a decision: contacts of the people it changed take their new person and household,
    and repeats among those people and households are judged again (failure demand).
    """
    from onecase.contacts.models import Contact
    from onecase.contacts.services import demand_classify, resolution_refresh

    person_ids = sorted(set(person_ids))
    if not person_ids:
        return
    stale = Contact.objects.filter(person_id__in=person_ids)
    households = set(stale.order_by().values_list("household_id", flat=True).distinct())
    agency_people = set(
        PersonLink.objects.filter(person_id__in=person_ids, undone_at__isnull=True).values_list(
            "agency_person_id", flat=True
        )
    )
    agency_people |= set(stale.order_by().values_list("agency_person_id", flat=True).distinct())
    resolution_refresh(agency_person_ids=sorted(agency_people))
    households |= set(Person.objects.filter(pk__in=person_ids).values_list("household_id", flat=True))
    demand_classify(actor=actor, person_ids=person_ids, household_ids=households)


def _decided_pair(actor, item, agency_person, other, expected_version) -> tuple[AgencyPerson, AgencyPerson]:
    """The pair to decide, checked: the item (if any) is locked, visible to the reviewer, unchanged and open."""
    if item is not None:
        lock(item)
        _check_reviewer(actor, item.agency_person_a, item.agency_person_b)
        check_version(item, expected_version)
    a, b = _pair_args(item, agency_person, other)
    _check_reviewer(actor, a, b)
    return a, b


def _check_reviewer(actor, *agency_people) -> None:
    if not may_review_linkage(actor):
        raise PermissionDenied("Only partnership administrators, agency administrators and DPOs review links.")
    if not may_review_records(actor, *agency_people):
        raise PermissionDenied("You may only decide about agency records you can see.")


@transaction.atomic
def review_confirm(*, actor, item: ReviewItem | None = None, agency_person: AgencyPerson | None = None,
                   other: AgencyPerson | None = None, note: str = "",
                   expected_version: int | None = None) -> LinkDecision:
    """The two agency people are the same person: their people are merged into one now, and stay so."""
    a, b = _decided_pair(actor, item, agency_person, other, expected_version)
    link_a, link_b = _active_link(a), _active_link(b)
    decision = _decision(actor=actor, kind=LinkDecision.Kind.CONFIRM, agency_person=a, other=b, item=item,
                         note=note, pairs=[(a.pk, b.pk, True)])
    moved = 0
    if link_a.person_id != link_b.person_id:
        keep_id, gone_id = sorted((link_a.person_id, link_b.person_id))
        keep_records = PersonLink.objects.filter(person_id=keep_id, undone_at__isnull=True)
        gone_links = list(PersonLink.objects.select_for_update().filter(person_id=gone_id, undone_at__isnull=True))
        blocked = _apart_pairs(keep_records.values_list("agency_person_id", flat=True),
                               [link.agency_person_id for link in gone_links])
        if blocked:
            raise ValidationError(
                "An earlier decision keeps some of these records apart; undo it before confirming this pair."
            )
        keep = Person.objects.get(pk=keep_id)
        undone, created = links_move(links=gone_links, person=keep, method=PersonLink.Method.CONFIRMED, actor=actor)
        decision.undid_links.add(*undone)
        decision.created_links.add(*created)
        person_refresh_household(keep)
        Person.objects.filter(pk=gone_id).update(household=None)
        moved = len(created)
        _contacts_follow(actor=actor, person_ids=[keep_id, gone_id])
    if item is not None:
        ReviewItem.objects.filter(pk=item.pk).update(status=ReviewItem.Status.CONFIRMED, updated_at=timezone.now(),
                                                          version=F("version") + 1)
    _audit(actor, decision, {"agency_people": [a.pk, b.pk], "links_moved": moved, "review_item": item and item.pk})
    return decision


@transaction.atomic
def review_reject(*, actor, item: ReviewItem | None = None, agency_person: AgencyPerson | None = None,
                  other: AgencyPerson | None = None, note: str = "",
                  expected_version: int | None = None) -> LinkDecision:
    """The two agency people are different people: if linked together, the less certain one is split out now."""
    a, b = _decided_pair(actor, item, agency_person, other, expected_version)
    link_a, link_b = _active_link(a), _active_link(b)
    decision = _decision(actor=actor, kind=LinkDecision.Kind.REJECT, agency_person=a, other=b, item=item,
                         note=note, pairs=[(a.pk, b.pk, False)])
    moved = 0
    if link_a.person_id == link_b.person_id:
        weaker = min((link_a, link_b), key=lambda link: (link.match_probability, -link.agency_person_id))
        person = person_create()
        undone, created = links_move(links=[weaker], person=person, method=PersonLink.Method.SPLIT, actor=actor,
                                     probability=1.0)
        decision.undid_links.add(*undone)
        decision.created_links.add(*created)
        person_refresh_household(person)
        person_refresh_household(Person.objects.get(pk=link_a.person_id))
        moved = len(created)
        _contacts_follow(actor=actor, person_ids=[person.pk, link_a.person_id])
    if item is not None:
        ReviewItem.objects.filter(pk=item.pk).update(status=ReviewItem.Status.REJECTED, updated_at=timezone.now(),
                                                          version=F("version") + 1)
    _audit(actor, decision, {"agency_people": [a.pk, b.pk], "links_moved": moved, "review_item": item and item.pk})
    return decision


@transaction.atomic
def person_split(*, actor, agency_person: AgencyPerson, with_agency_people: Iterable[AgencyPerson] = (),
                 note: str = "") -> LinkDecision:
    """``agency_person`` (with ``with_agency_people``) was linked to the wrong person: split out into a new person.

    The split records stay apart from the records they leave behind in every later link
    run; those split out together stay together.
    """
    moving = [agency_person, *[ap for ap in with_agency_people if ap.pk != agency_person.pk]]
    links = [_active_link(ap) for ap in moving]
    person_id = links[0].person_id
    if any(link.person_id != person_id for link in links):
        raise ValidationError("The records to split out must all belong to the same person.")
    moving_ids = {ap.pk for ap in moving}
    staying = list(
        PersonLink.objects.filter(person_id=person_id, undone_at__isnull=True)
        .exclude(agency_person_id__in=moving_ids)
        .select_related("agency_person")
    )
    if not staying:
        raise ValidationError("These are all the records of this person; there is nothing to split them from.")
    _check_reviewer(actor, *moving, *[link.agency_person for link in staying])
    pairs = [(m, s.agency_person_id, False) for m in sorted(moving_ids) for s in staying]
    ordered = sorted(moving_ids)
    pairs += [(x, y, True) for i, x in enumerate(ordered) for y in ordered[i + 1 :]]
    decision = _decision(actor=actor, kind=LinkDecision.Kind.SPLIT, agency_person=agency_person, note=note,
                         pairs=pairs)
    person = person_create()
    undone, created = links_move(links=links, person=person, method=PersonLink.Method.SPLIT, actor=actor,
                                 probability=1.0)
    decision.undid_links.add(*undone)
    decision.created_links.add(*created)
    person_refresh_household(person)
    person_refresh_household(Person.objects.get(pk=person_id))
    _contacts_follow(actor=actor, person_ids=[person.pk, person_id])
    ReviewItem.objects.filter(status=ReviewItem.Status.OPEN).filter(
        agency_person_a__in=moving_ids, agency_person_b__in=[s.agency_person_id for s in staying]
    ).update(status=ReviewItem.Status.REJECTED, updated_at=timezone.now(), version=F("version") + 1)
    ReviewItem.objects.filter(status=ReviewItem.Status.OPEN).filter(
        agency_person_b__in=moving_ids, agency_person_a__in=[s.agency_person_id for s in staying]
    ).update(status=ReviewItem.Status.REJECTED, updated_at=timezone.now(),
                                                          version=F("version") + 1)
    _audit(actor, decision, {"agency_people": sorted(moving_ids), "from_person": person_id, "to_person": person.pk})
    return decision


@transaction.atomic
def decision_undo(*, actor, decision: LinkDecision, note: str = "", expected_version: int | None = None) -> bool:
    """Undo a decision. Returns True if its links were restored now, False if the next link run will.

    Links are restored at once when nothing has moved them since; otherwise the decision
    simply stops binding, and the next link run places the records by the model again.
    """
    decision = LinkDecision.objects.select_for_update().get(pk=decision.pk)
    records = [decision.agency_person] + ([decision.other] if decision.other_id else [])
    if decision.other_id is None:
        # Undoing a split rejoins the record to its former person: the reviewer must see that person's records too.
        former = {link.person_id for link in decision.undid_links.all()}
        records += list(
            AgencyPerson.objects.filter(links__person_id__in=former, links__undone_at__isnull=True).distinct()
        )
    _check_reviewer(actor, *records)
    check_version(decision, expected_version)
    if decision.undone_at is not None:
        raise ValidationError("This decision has already been undone.")
    decision.undone_at = timezone.now()
    decision.undone_by = actor if getattr(actor, "is_authenticated", False) else None
    if note:
        decision.note = f"{decision.note}\n{note}".strip()
    decision.version += 1
    decision.save(update_fields=["undone_at", "undone_by", "note", "version"])
    created = list(decision.created_links.all())
    undid = list(decision.undid_links.all())
    restored = not created
    if created and all(link.undone_at is None for link in created):
        links_undo(links=created, actor=actor)
        links_restore(links=undid, actor=actor)
        touched = sorted({link.person_id for link in created} | {link.person_id for link in undid})
        for person_id in touched:
            person_refresh_household(Person.objects.get(pk=person_id))
        _contacts_follow(actor=actor, person_ids=touched)
        restored = True
    item = decision.review_item
    if item is not None and item.status in (ReviewItem.Status.CONFIRMED, ReviewItem.Status.REJECTED):
        if not ReviewItem.objects.filter(
            status=ReviewItem.Status.OPEN, agency_person_a=item.agency_person_a, agency_person_b=item.agency_person_b
        ).exists():
            ReviewItem.objects.filter(pk=item.pk).update(status=ReviewItem.Status.OPEN, updated_at=timezone.now(),
                                                         version=F("version") + 1)
    audit_record(
        user=actor, action=AuditEvent.Action.CHANGE, object_type="link_decision", object_id=decision.pk,
        detail={"undone": True, "kind": decision.kind, "restored_now": restored},
    )
    return restored


EXPORT_COLUMNS = ("agency", "person_ref", "person_id", "household_id", "match_probability")


def links_export(*, actor, path) -> int:
    """Write one CSV row per agency person (unlinked ones with empty ids); returns the row count.

    Partnership-wide, so only for the command line or partnership administrators; audited.
    """
    from django.db import connection

    if actor is not None and not may_run_linkage(actor):
        raise PermissionDenied("Only partnership administrators may export the links.")
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as handle, connection.cursor() as cursor:
        writer = csv_writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        cursor.execute(
            """SELECT a.code, ap.person_ref, l.person_id, p.household_id, l.match_probability
               FROM people_agencyperson ap
               JOIN accounts_agency a ON a.id = ap.agency_id
               LEFT JOIN people_personlink l ON l.agency_person_id = ap.id AND l.undone_at IS NULL
               LEFT JOIN people_person p ON p.id = l.person_id
               ORDER BY a.code, ap.person_ref"""
        )
        while rows := cursor.fetchmany(10_000):
            for code, ref, person, household, probability in rows:
                writer.writerow((code, ref, person or "", household or "",
                                 "" if probability is None else Decimal(f"{probability:.6f}")))
            count += len(rows)
    with transaction.atomic():
        audit_record(user=actor, action=AuditEvent.Action.EXPORT, object_type="links", object_id="all",
                     detail={"rows": count})
    return count
