"""Linkage reads: the review queue, decisions and runs, scoped to what the user may see.

A review item is shown only to a reviewer who may see both of its agency records, the
same rule the review services apply (onecase/linkage/rules.py).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from onecase.accounts.rules import sees_whole_partnership
from onecase.linkage.models import LinkDecision, LinkRun, ReviewItem
from onecase.linkage.rules import may_review_linkage


def _both_visible(user, a: str = "agency_person_a", b: str = "agency_person_b") -> Q:
    return Q(**{f"{a}__agency_id": user.agency_id, f"{b}__agency_id": user.agency_id})


def review_queue_for(user) -> QuerySet[ReviewItem]:
    """Open review items ``user`` may decide, most probable first, with both agency records."""
    if not may_review_linkage(user):
        return ReviewItem.objects.none()
    items = ReviewItem.objects.filter(status=ReviewItem.Status.OPEN).select_related(
        "agency_person_a__agency", "agency_person_b__agency", "run"
    )
    if not sees_whole_partnership(user):
        items = items.filter(_both_visible(user))
    return items.order_by("-match_probability", "id")


def review_item_for(user, item_id: int) -> ReviewItem | None:
    """One review item (any status) if ``user`` may review it, else None."""
    if not may_review_linkage(user):
        return None
    items = ReviewItem.objects.select_related("agency_person_a__agency", "agency_person_b__agency", "run")
    if not sees_whole_partnership(user):
        items = items.filter(_both_visible(user))
    return items.filter(pk=item_id).first()


def decisions_for(user, *, agency_person_id: int | None = None) -> QuerySet[LinkDecision]:
    """Reviewers' decisions ``user`` may see (all their records visible), newest first, undone ones included."""
    if not may_review_linkage(user):
        return LinkDecision.objects.none()
    decisions = LinkDecision.objects.select_related("agency_person__agency", "other__agency", "decided_by", "undone_by")
    if agency_person_id is not None:
        decisions = decisions.filter(
            Q(agency_person_id=agency_person_id) | Q(other_id=agency_person_id)
            | Q(pairs__agency_person_a_id=agency_person_id) | Q(pairs__agency_person_b_id=agency_person_id)
        ).distinct()
    if not sees_whole_partnership(user):
        decisions = decisions.filter(agency_person__agency_id=user.agency_id).filter(
            Q(other__isnull=True) | Q(other__agency_id=user.agency_id)
        )
    return decisions.order_by("-decided_at", "-id")


def link_runs_for(user) -> QuerySet[LinkRun]:
    """Link runs (counts and parameters only) for partnership administrators."""
    if not sees_whole_partnership(user):
        return LinkRun.objects.none()
    return LinkRun.objects.order_by("-started_at", "-id")


def current_model() -> dict:
    """Parameters of the last finished run, or the untrained priors."""
    run = LinkRun.objects.filter(status=LinkRun.Status.FINISHED).exclude(model={}).order_by("-id").first()
    if run is not None:
        return run.model
    from onecase.linkage.engine import untrained_parameters

    return untrained_parameters(1000)
