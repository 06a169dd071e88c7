"""Writes to the demand ledger: its classifications, and contacts logged one at a time.

Agency-supplied fields are changed only as an import would change them (``contact_log``).
"""

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery

from onecase.accounts.rules import sees_whole_partnership
from onecase.contacts.bulk import demand_counts_paused, rebuild_demand_counts
from onecase.contacts.models import Contact, DemandClass, DemandKind, NeedCategory, NeedKeyword
from onecase.contacts.needs import NeedMatcher
from onecase.contacts.rules import may_log_contacts, may_reclassify
from onecase.imports.contact_format import IDENTITY
from onecase.imports.services import ImportRejected, record_load
from onecase.people.models import AgencyPerson, Person, PersonLink
from onecase.sharing.models import AuditEvent
from onecase.sharing.selectors import known_people
from onecase.sharing.services import audit_record

BATCH = 500


@transaction.atomic
def needs_classify(*, actor, updated_since: dt.datetime | None = None) -> dict[str, int]:
    """Place every contact not classified by hand in a need category, by the keyword table.

    Works on distinct presenting-need texts, so a million contacts cost a few thousand
    matches and one UPDATE per batch of texts. Returns contacts per category code.

    With ``updated_since``, only contacts imported, logged or changed since then are placed
    (and counted): linkage calls this for what arrived since its last run, so that new
    contacts count in the demand ranking and failure demand as soon as they are linked; its
    own service has already permitted the caller.
    """
    scoped = updated_since is not None
    if actor is not None and not scoped and not sees_whole_partnership(actor):
        raise PermissionDenied("Only partnership administrators may reclassify the whole ledger.")
    matcher = NeedMatcher(list(NeedKeyword.objects.values_list("phrase", "category_id")))
    automatic = Contact.objects.filter(need_category_manual=False)
    if scoped:
        automatic = automatic.filter(updated_at__gte=updated_since)
    _needs_place(matcher, automatic)
    counted = automatic if scoped else Contact.objects.all()
    counts = {
        code or "unclassified": n
        for code, n in counted.values_list("need_category__code").annotate(n=Count("id")).order_by()
    }
    detail = {"need_classification": counts}
    if scoped:
        detail["scope"] = "contacts imported or changed since the last link"
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        object_type="contacts",
        detail=detail,
    )
    return counts


def _needs_place(matcher: NeedMatcher, contacts) -> None:
    """Place ``contacts`` by their distinct texts: each text matched once, one UPDATE per batch of texts."""
    by_category: dict[int | None, list[str]] = defaultdict(list)
    for text in contacts.values_list("presenting_need", flat=True).distinct().order_by():
        by_category[matcher.match(text)].append(text)
    for category_id, texts in by_category.items():
        for start in range(0, len(texts), BATCH):
            contacts.filter(presenting_need__in=texts[start : start + BATCH]).exclude(
                need_category_id=category_id
            ).update(need_category_id=category_id)


@transaction.atomic
def contact_set_need(*, actor, contact: Contact, category: NeedCategory | None, ip=None) -> Contact:
    """Correct one contact's need category by hand; later keyword runs leave it alone."""
    if not may_reclassify(actor, contact):
        raise PermissionDenied("You may not reclassify this contact.")
    before = contact.need_category_id
    contact.need_category = category
    contact.need_category_manual = True
    contact.save(update_fields=["need_category", "need_category_manual"])
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        object_type="contact",
        object_id=contact.pk,
        ip=ip,
        detail={"need_category": [before, category.pk if category else None]},
    )
    return contact


@transaction.atomic
def resolution_refresh(*, agency_person_ids=None) -> int:
    """Copy each contact's person and household from its agency person's active link.

    Derived data, called by linkage after every run or review decision. Returns the number of
    contacts updated. Refreshing the whole ledger counts people's and households' demand again
    set-based, rather than contact by contact in the triggers.
    """
    active = PersonLink.objects.filter(agency_person_id=OuterRef("agency_person_id"), undone_at__isnull=True)
    contacts = Contact.objects.all()
    resolved = {
        "person_id": Subquery(active.values("person_id")[:1]),
        "household_id": Subquery(active.values("person__household_id")[:1]),
    }
    if agency_person_ids is not None:
        return contacts.filter(agency_person_id__in=list(agency_person_ids)).update(**resolved)
    with demand_counts_paused():
        updated = contacts.update(**resolved)
        rebuild_demand_counts([DemandKind.PERSON, DemandKind.HOUSEHOLD])
    return updated


def failure_window() -> dt.timedelta:
    return dt.timedelta(days=int(getattr(settings, "ONECASE_FAILURE_WINDOW_DAYS", 90)))


@transaction.atomic
def demand_classify(*, actor, window: dt.timedelta | None = None, person_ids=None,
                    household_ids=None) -> dict[str, int]:
    """Classify every contact not classified by hand as value, failure or unknown demand.

    Failure demand: a contact about the same need category as an earlier contact, at any
    agency, for the same person or the same household, within ``window`` of it. A contact
    with no need category is unknown. Returns counts per class.

    With ``person_ids`` or ``household_ids``, only the contacts of those people and
    households are classified (all that a repeat among them depends on): linkage calls this
    after a reviewer's decision, which its own service has already permitted.
    """
    scoped = person_ids is not None or household_ids is not None
    person_ids = sorted({pk for pk in person_ids or () if pk is not None})
    household_ids = sorted({pk for pk in household_ids or () if pk is not None})
    if actor is not None and not scoped and not sees_whole_partnership(actor):
        raise PermissionDenied("Only partnership administrators may reclassify the whole ledger.")
    window = window or failure_window()
    last_seen: dict[tuple, object] = {}
    wanted: dict[str, list[int]] = {c: [] for c in DemandClass.values}
    contacts = Contact.objects.all()
    if scoped:
        contacts = contacts.filter(Q(person_id__in=person_ids) | Q(household_id__in=household_ids))
    rows = (
        contacts.filter(demand_class_manual=False)
        .order_by("occurred_at", "pk")
        .values_list("pk", "person_id", "household_id", "need_category_id", "occurred_at", "demand_class")
    )
    for pk, person_id, household_id, need_id, occurred_at, current in rows.iterator(chunk_size=20000):
        if need_id is None:
            verdict = DemandClass.UNKNOWN
        else:
            verdict = DemandClass.VALUE
            keys = []
            if person_id is not None:
                keys.append(("p", person_id, need_id))
            if household_id is not None:
                keys.append(("h", household_id, need_id))
            for key in keys:
                earlier = last_seen.get(key)
                if earlier is not None and occurred_at - earlier <= window:
                    verdict = DemandClass.FAILURE
                last_seen[key] = occurred_at
        if verdict != current:
            wanted[verdict].append(pk)
    for verdict, pks in wanted.items():
        for start in range(0, len(pks), BATCH):
            Contact.objects.filter(pk__in=pks[start : start + BATCH]).update(demand_class=verdict)
    counts = {value: n for value, n in contacts.values_list("demand_class").annotate(n=Count("id")).order_by()}
    detail = {"demand_classification": counts, "window_days": window.days}
    if scoped:
        detail["scope"] = {"people": len(person_ids), "households": len(household_ids)}
    audit_record(user=actor, action=AuditEvent.Action.CHANGE, object_type="contacts", detail=detail)
    return counts


@transaction.atomic
def contact_set_demand_class(*, actor, contact: Contact, demand_class: str, ip=None) -> Contact:
    """Reclassify one contact as value, failure or unknown demand by hand; kept and audited."""
    if not may_reclassify(actor, contact):
        raise PermissionDenied("You may not reclassify this contact.")
    if demand_class not in DemandClass.values:
        raise ValidationError(f"Unknown demand class {demand_class!r}.")
    before = contact.demand_class
    contact.demand_class = demand_class
    contact.demand_class_manual = True
    contact.save(update_fields=["demand_class", "demand_class_manual"])
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        object_type="contact",
        object_id=contact.pk,
        ip=ip,
        detail={"demand_class": [before, demand_class]},
    )
    return contact


# --- one contact or concern, logged by staff or sent by an agency's own system ----------------

LOGGED_PREFIX = "onecase-"  # record ids and person references OneCase makes for its own agency's records
LINK_REASONS = {"web": "a contact logged by staff", "api": "a contact sent by an agency's system"}


@dataclass
class LoggedContact:
    contact: Contact
    created: bool  # a new contact (else one already there, updated or unchanged)
    updated: bool
    linking: str  # "now": on its person's chronology already; "queued": linkage will place it shortly


def new_reference() -> str:
    """A record id or person reference for a record made in OneCase, unlike any an agency's system writes."""
    return f"{LOGGED_PREFIX}{uuid.uuid4().hex}"


@transaction.atomic
def contact_log(*, actor, record: dict[str, str], person: Person | None = None, via: str = "api",
                ip=None) -> LoggedContact:
    """Log one contact or concern for ``actor``'s own agency: checked exactly as a row of an imported
    file and loaded as one (``imports.services.record_load``), then placed and audited.

    ``record`` holds the canonical fields (docs/contact-format.md); the agency is always the actor's.
    Sent by an agency's own system (no ``person``): its ``person_ref`` names the agency's record of
    the person; if that record is linked, the contact follows its person at once, and otherwise (or
    if its identity changed) it is linked soon (``linkage.services.link_soon``), after this commits.
    Logged on a person's page (``person``, whom the actor may identify): the agency's own record of
    them is used, its identity kept; with none, a record is made and linked to them at once, by a
    "logged by staff" link and a decision that keeps it with their other records on later link runs.

    Raises PermissionDenied, or ValidationError whose ``error_dict`` names each canonical field at fault.
    """
    if not may_log_contacts(actor):
        raise PermissionDenied("Your role does not log contacts.")
    agency = actor.agency
    record = {name: value for name, value in record.items() if name != "agency"}
    own = None
    if person is not None:
        if not known_people(actor, [person.pk]):
            raise PermissionDenied("You may not log a contact about this person.")
        own = _own_record_of(agency.pk, person)
        if own is None:
            record["person_ref"] = new_reference()
            record.update({name: "" for name in IDENTITY})
        else:
            record["person_ref"] = own.person_ref
            # The agency's record keeps who it says the person is (a file row would set it anew).
            record.update({name: _text(getattr(own, name)) for name in IDENTITY})
    try:
        loaded = record_load(record=record, agency=agency)
    except ImportRejected as rejected:
        errors: dict[str, list[str]] = defaultdict(list)
        for problem in rejected.problems:
            errors[problem.column or NON_FIELD_ERRORS].append(problem.reason)
        raise ValidationError(dict(errors)) from None
    contact = Contact.objects.get(pk=loaded.contact_id)
    if not contact.need_category_manual:
        category = NeedMatcher(list(NeedKeyword.objects.values_list("phrase", "category_id"))).match(
            contact.presenting_need)
        if category != contact.need_category_id:
            contact.need_category_id = category
            contact.save(update_fields=["need_category"])
    decision_id = None
    if person is not None and own is None:
        decision_id = _link_logged(actor=actor, agency_person_id=loaded.agency_person_id, person=person)
    link = PersonLink.objects.filter(agency_person_id=loaded.agency_person_id, undone_at__isnull=True).first()
    if link is not None:
        _contact_follows(actor=actor, contact=contact)
    stale = link is None or AgencyPerson.objects.filter(pk=loaded.agency_person_id,
                                                        updated_at__gt=link.created_at).exists()
    request_id = None
    if stale:
        from onecase.linkage.services import link_soon

        request_id = link_soon(reason=LINK_REASONS.get(via, LINK_REASONS["api"])).pk
    linking = "queued" if link is None else "now"
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        object_type="contact",
        object_id=contact.pk,
        ip=ip,
        detail={"logged": via, "created": loaded.created, "updated": loaded.updated,
                "agency_person_created": loaded.person_created, "linking": linking, "link_request": request_id,
                "link_decision": decision_id},
    )
    contact.refresh_from_db()
    return LoggedContact(contact=contact, created=loaded.created, updated=loaded.updated, linking=linking)


def _text(value) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _own_record_of(agency_id: int, person: Person) -> AgencyPerson | None:
    """The agency's record linked to ``person``: the one whose identity is the most recent."""
    link = (
        PersonLink.objects.filter(person=person, undone_at__isnull=True, agency_person__agency_id=agency_id)
        .select_related("agency_person")
        .order_by(F("agency_person__identity_as_of").desc(nulls_last=True), "-agency_person_id")
        .first()
    )
    return link.agency_person if link else None


def _link_logged(*, actor, agency_person_id: int, person: Person) -> int | None:
    """Link a record just made on ``person``'s page to them ("logged by staff", certain), and keep it
    with one of their other records by a confirm decision that later link runs respect and a
    reviewer may undo. Returns the decision's id (None if the person has no other record)."""
    from onecase.linkage.models import DecisionPair, LinkDecision

    link = PersonLink.objects.create(agency_person_id=agency_person_id, person=person, match_probability=1.0,
                                     method=PersonLink.Method.LOGGED, created_by=actor)
    anchor = (PersonLink.objects.filter(person=person, undone_at__isnull=True)
              .exclude(agency_person_id=agency_person_id).order_by("agency_person_id")
              .values_list("agency_person_id", flat=True).first())
    if anchor is None:
        return None
    decision = LinkDecision.objects.create(
        kind=LinkDecision.Kind.CONFIRM, agency_person_id=agency_person_id, other_id=anchor, decided_by=actor,
        note="Logged by staff on the person's page.",
    )
    DecisionPair.objects.create(decision=decision, agency_person_a_id=min(anchor, agency_person_id),
                                agency_person_b_id=max(anchor, agency_person_id), together=True)
    decision.created_links.add(link)
    return decision.pk


def _contact_follows(*, actor, contact: Contact) -> None:
    """The contact takes its agency person's person and household now, and repeats are judged again."""
    resolution_refresh(agency_person_ids=[contact.agency_person_id])
    contact.refresh_from_db(fields=["person", "household"])
    if contact.person_id is not None or contact.household_id is not None:
        demand_classify(actor=actor, person_ids=[contact.person_id], household_ids=[contact.household_id])

