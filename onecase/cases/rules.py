"""Who may do what on a case. One set of predicates for views, API, templates and services.

The team of a case is its key worker and the staff of the key worker's agency in case roles;
a practitioner pulled in from elsewhere sees and adds to only the sections their grant names,
only while the grant is accepted, in date, and backed by a sharing agreement in force.
"""

from django.db.models import Q
from django.utils import timezone

from onecase.accounts.models import Role
from onecase.accounts.rules import is_staff_member, sees_whole_partnership
from onecase.cases.impact import followup_due_on, today_in_uk
from onecase.cases.models import Grant, Section
from onecase.sharing.models import Purpose
from onecase.sharing.selectors import known_households, known_people

# Roles that may hold a case as its key worker.
CASE_HOLDING_ROLES = {Role.KEY_WORKER, Role.PRACTITIONER, Role.VOLUNTARY_PARTNER}
# Roles that may work cases of their own agency (the case team) and be pulled in from another.
CASE_WORKING_ROLES = CASE_HOLDING_ROLES | {Role.AGENCY_ADMIN, Role.FRONT_DOOR}
ALL_SECTIONS = frozenset(Section.values)


def may_hold_cases(user) -> bool:
    return is_staff_member(user) and user.role in CASE_HOLDING_ROLES and user.agency_id is not None


def may_import_cases(user) -> bool:
    """Historical cases from the old system are imported by partnership administrators (or at the command line)."""
    return sees_whole_partnership(user)


def may_hold_imported_case(user, *, live: bool) -> bool:
    """A key worker named by an imported case: a case-holding role in an agency; a live case needs them active."""
    return (user.role in CASE_HOLDING_ROLES and user.agency_id is not None
            and (user.is_active or not live))


def may_open_cases(user) -> bool:
    """Key workers open their own cases; agency and partnership administrators open them for staff."""
    return is_staff_member(user) and (
        sees_whole_partnership(user) or user.role in CASE_HOLDING_ROLES | {Role.AGENCY_ADMIN}
    )


def may_open_case_on(user, *, household_id: int | None = None, person_id: int | None = None) -> bool:
    """A case needs a reason to hold it: a partnership administrator, or an opener who may identify
    the subject (their agency holds a record of it, or an agreement covering identity shows it)."""
    if not may_open_cases(user):
        return False
    if sees_whole_partnership(user):
        return True
    if household_id is not None:
        return bool(known_households(user, [household_id]))
    return person_id is not None and bool(known_people(user, [person_id]))


def may_open_case_for(user, key_worker) -> bool:
    if not (may_open_cases(user) and may_hold_cases(key_worker)):
        return False
    if sees_whole_partnership(user) or user.pk == key_worker.pk:
        return True
    return user.role == Role.AGENCY_ADMIN and user.agency_id == key_worker.agency_id


def is_case_team(user, case) -> bool:
    """The key worker, and colleagues in the key worker's agency who work cases."""
    if not is_staff_member(user):
        return False
    if user.pk == case.key_worker_id or sees_whole_partnership(user):
        return True
    return user.agency_id == case.agency_id and user.role in CASE_WORKING_ROLES


def grants_in_force_q(on=None) -> Q:
    """Accepted, in date, and (across agencies) backed by its sharing agreement, still in force."""
    on = on or timezone.localdate()
    agreement_ok = Q(agreement__isnull=True) | (
        Q(agreement__revoked_at__isnull=True, agreement__starts_on__lte=on)
        & (Q(agreement__ends_on__isnull=True) | Q(agreement__ends_on__gte=on))
    )
    return Q(state=Grant.State.ACCEPTED, starts_on__lte=on, ends_on__gte=on) & agreement_ok


def grants_for(user, case) -> list[Grant]:
    """Grants on ``case`` held by ``user`` that are in force now."""
    if not is_staff_member(user):
        return []
    return list(case.grants.filter(grants_in_force_q(), invitee=user))


def purposes_on_case(user, case) -> dict[str, str]:
    """{purpose: where it comes from} that ``user``'s work on ``case`` carries into disclosures:
    key work for the case team, each grant's own purpose for those pulled in."""
    if is_case_team(user, case):
        return {Purpose.KEY_WORK.value: f"case {case.reference}"}
    return {grant.purpose_code: f"pull-in to case {case.reference}" for grant in grants_for(user, case)}


def sections_visible(user, case) -> frozenset[str]:
    """The sections of ``case`` that ``user`` may see (empty: the case is refused)."""
    if is_case_team(user, case):
        return ALL_SECTIONS
    seen: set[str] = set()
    for grant in grants_for(user, case):
        seen |= set(grant.may_see) | set(grant.may_add)
    return frozenset(seen)


def sections_addable(user, case) -> frozenset[str]:
    """The sections of a live ``case`` that ``user`` may add to."""
    if not case.is_live:
        return frozenset()
    if is_case_team(user, case):
        return ALL_SECTIONS
    added: set[str] = set()
    for grant in grants_for(user, case):
        added |= set(grant.may_add)
    return frozenset(added)


def may_own_actions(user, case) -> bool:
    """Actions on ``case`` are owned by someone active who may see it."""
    return bool(sections_visible(user, case)) and user.is_active


def may_manage_case(user, case) -> bool:
    """Status, key worker, grants and outcomes: the key worker, or an administrator over them."""
    if not is_staff_member(user):
        return False
    if user.pk == case.key_worker_id or sees_whole_partnership(user):
        return True
    return user.role == Role.AGENCY_ADMIN and user.agency_id == case.agency_id


def followup_open(case, *, today=None) -> bool:
    """Whether a closed case's six-month follow-up may be recorded: six months have passed since closure."""
    due = followup_due_on(case)
    return due is not None and (today or today_in_uk()) >= due


def may_record_followup(user, case, *, today=None) -> bool:
    """The six-month follow-up of a closed case's needs: whoever manages the case, once it is due."""
    return may_manage_case(user, case) and followup_open(case, today=today)


def may_respond_to_grant(user, grant: Grant) -> bool:
    if not is_staff_member(user) or grant.state != Grant.State.INVITED:
        return False
    if grant.invitee_id is not None:
        return user.pk == grant.invitee_id
    return user.agency_id == grant.agency_id and user.role in CASE_WORKING_ROLES
