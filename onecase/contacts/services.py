"""Writes to the demand ledger's classifications. Agency-supplied fields are never changed here."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count

from onecase.accounts.rules import sees_whole_partnership
from onecase.contacts.models import Contact, NeedCategory, NeedKeyword
from onecase.contacts.needs import NeedMatcher
from onecase.contacts.rules import may_reclassify
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
