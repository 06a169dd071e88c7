"""Household and person profiles. Every view is audited, with each disclosure and its basis."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from onecase.accounts.rules import sees_whole_partnership
from onecase.audit.services import client_ip
from onecase.cases.rules import may_open_cases
from onecase.cases.selectors import cases_on_subject
from onecase.contacts.profiles import profile_read
from onecase.contacts.rules import RECLASSIFY_ROLES
from onecase.linkage.rules import may_review_linkage
from onecase.sharing.models import Tier
from onecase.sharing.rules import may_break_glass, may_export_sar, may_see_access_history
from onecase.sharing.selectors import access_history_for


def _render(request, kind: str, pk: int):
    profile = profile_read(request.user, kind=kind, pk=pk, ip=client_ip(request))
    history = []
    if kind == "person" and may_see_access_history(request.user, pk):
        history = [
            {"event": e, "basis": e.detail.get("agreement") or e.detail.get("basis") or e.purpose}
            for e in access_history_for(request.user, person_id=pk)[:50]
        ]
    context = {
        "profile": profile,
        "Tier": Tier,
        "history": history,
        "kind": kind,
        "may_request": kind == "person" and any(v.tier < Tier.FULL for v in profile.agencies),
        "may_sar": kind == "person" and may_export_sar(request.user, pk),
        "may_break_glass": kind == "person" and may_break_glass(request.user),
        "may_open_case": may_open_cases(request.user),
        "reclassify_agencies": _reclassify_agencies(request.user),
        "cases": cases_on_subject(request.user, **{f"{kind}_id": pk}),
        "may_review": may_review_linkage(request.user),
    }
    return render(request, "web/profiles/profile.html", context)


def _reclassify_agencies(user):
    """"all", or the agency ids whose contacts ``user`` may reclassify (empty: none)."""
    if sees_whole_partnership(user):
        return "all"
    return {user.agency_id} if user.agency_id and user.role in RECLASSIFY_ROLES else set()


@login_required
@require_GET
def household_profile(request, pk: int):
    return _render(request, "household", pk)


@login_required
@require_GET
def person_profile(request, pk: int):
    return _render(request, "person", pk)
