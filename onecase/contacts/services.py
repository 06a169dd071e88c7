"""Writes to the demand ledger's classifications. Agency-supplied fields are never changed here."""

import datetime as dt

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery

from onecase.accounts.rules import sees_whole_partnership
from onecase.contacts.bulk import demand_counts_paused, rebuild_demand_counts
from onecase.contacts.models import Contact, DemandClass, DemandKind, NeedCategory, NeedKeyword
from onecase.contacts.needs import NeedMatcher
from onecase.contacts.rules import may_reclassify
from onecase.people.models import PersonLink
from onecase.sharing.models import AuditEvent
from onecase.sharing.services import audit_record

BATCH = 500


@transaction.atomic
def needs_classify(*, actor) -> dict[str, int]:
    """Place every contact not classified by hand in a need category, by the keyword table.

    Works on distinct presenting-need texts, so a million contacts cost a few thousand
    matches and one UPDATE per batch of texts. Returns contacts per category code.
    """
    if actor is not None and not sees_whole_partnership(actor):
        raise PermissionDenied("Only partnership administrators may reclassify the whole ledger.")
    matcher = NeedMatcher(list(NeedKeyword.objects.values_list("phrase", "category_id")))
    automatic = Contact.objects.filter(need_category_manual=False)
    by_category: dict[int | None, list[str]] = {}
    for text in automatic.values_list("presenting_need", flat=True).distinct().order_by():
        by_category.setdefault(matcher.match(text), []).append(text)
    for category_id, texts in by_category.items():
        for start in range(0, len(texts), BATCH):
            automatic.filter(presenting_need__in=texts[start : start + BATCH]).exclude(
                need_category_id=category_id
            ).update(need_category_id=category_id)
    counts = {
        code or "unclassified": n
        for code, n in Contact.objects.values_list("need_category__code").annotate(n=Count("id")).order_by()
    }
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        object_type="contacts",
        detail={"need_classification": counts},
    )
    return counts


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
