"""Case writes. Each checks permission, records a case event and writes its audit event in one
transaction. ``actor=None`` is a trusted operator at the command line.

Changes to a case, need, action, flag or grant lock the row, check ``expected_version`` (the
version the writer read; None skips the check) and raise ``Conflict`` when it is stale.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from onecase.accounts.models import Agency, User
from onecase.cases import case_format
from onecase.cases.models import (
    LIVE_STATUSES,
    Action,
    Case,
    CaseEvent,
    Flag,
    Grant,
    KeyWorkerSpell,
    Need,
    Note,
    Outcome,
    Section,
    Status,
)
from onecase.cases.rules import (
    CASE_HOLDING_ROLES,
    CASE_WORKING_ROLES,
    followup_open,
    is_case_team,
    may_hold_cases,
    may_hold_imported_case,
    may_import_cases,
    may_manage_case,
    may_open_case_for,
    may_open_case_on,
    may_own_actions,
    may_respond_to_grant,
    sections_addable,
)
from onecase.concurrency import Conflict as Conflict  # raised by the writes below
from onecase.concurrency import check_version, lock
from onecase.contacts.models import NeedCategory, NeedKeyword
from onecase.contacts.needs import NeedMatcher
from onecase.imports.contact_format import MAX_PROBLEMS, FormatError, Problem, read_table
from onecase.imports.services import ImportRejected
from onecase.people.models import AgencyPerson, Household, Person, PersonLink
from onecase.sharing.models import AuditEvent, Purpose
from onecase.sharing.rules import agreements_in_force
from onecase.sharing.services import audit_record

# Which statuses a case may move to from each status.
TRANSITIONS = {
    Status.OPEN: {Status.ACTIVE, Status.CLOSING},
    Status.ACTIVE: {Status.CLOSING},
    Status.CLOSING: {Status.ACTIVE, Status.CLOSED},
    Status.CLOSED: {Status.REOPENED},
    Status.REOPENED: {Status.ACTIVE, Status.CLOSING},
}
DEFAULT_GRANT_SEE = [Section.NEEDS, Section.CHRONOLOGY, Section.NOTES, Section.ACTIONS, Section.FLAGS]
DEFAULT_GRANT_ADD = [Section.NOTES, Section.ACTIONS]
MAX_GRANT_DAYS = 366


class DuplicateCase(ValidationError):
    """A live case already exists on this subject; ``case`` is it.

    The message names neither the case nor its key worker: callers add them for a user who may see it.
    """

    def __init__(self, case: Case):
        super().__init__("A case is already open on this subject.")
        self.case = case


def _audit(actor, case: Case, what: str, ip=None, **detail) -> None:
    audit_record(user=actor, action=AuditEvent.Action.CHANGE, object_type="case", object_id=case.pk,
                 purpose=what, ip=ip, detail=detail)


def event_record(*, case: Case, kind: str, actor, summary: str, section: str = "") -> CaseEvent:
    """Add an entry to the case's own history and mark the case as worked on."""
    now = timezone.now()
    agency = getattr(actor, "agency", None) if actor is not None else None
    event = CaseEvent.objects.create(case=case, kind=kind, at=now, actor=actor, agency=agency, section=section,
                                     summary=summary)
    Case.objects.filter(pk=case.pk).update(last_activity_at=now)
    return event


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise PermissionDenied(message)


def _live(case: Case) -> None:
    if case.status not in LIVE_STATUSES:
        raise ValidationError(f"{case.reference} is closed; reopen it first.")


def _may_add(actor, case: Case, section: str) -> None:
    _live(case)
    if actor is not None:
        _require(section in sections_addable(actor, case), "You may not add to this part of the case.")


def live_case_on(*, household_id: int | None = None, person_id: int | None = None) -> Case | None:
    cases = Case.objects.filter(status__in=LIVE_STATUSES).select_related("key_worker")
    if household_id is not None:
        return cases.filter(household_id=household_id).first()
    return cases.filter(person_id=person_id).first()


@transaction.atomic
def case_open(*, actor, key_worker: User, household: Household | None = None, person: Person | None = None,
              summary: str = "", ip=None) -> Case:
    """Open a case on a household or a person, owned by ``key_worker``. Refuses a duplicate."""
    if (household is None) == (person is None):
        raise ValidationError("Open a case on one household or one person.")
    if not may_hold_cases(key_worker):
        raise ValidationError(f"{key_worker.username} cannot hold cases: choose an active key worker or practitioner.")
    if actor is not None:
        _require(may_open_case_for(actor, key_worker), "You may not open a case for this key worker.")
        _require(may_open_case_on(actor, household_id=household.pk if household else None,
                                  person_id=person.pk if person else None),
                 "Your agency holds no record of them and no agreement lets you see them.")
    # Serialise openings on the same subject so two people cannot open it at once.
    model = Household if household else Person
    subject = model.objects.select_for_update(of=("self",)).get(pk=(household or person).pk)
    existing = live_case_on(household_id=household.pk if household else None,
                            person_id=person.pk if person else None)
    if existing is not None:
        raise DuplicateCase(existing)
    now = timezone.now()
    case = Case.objects.create(
        household=subject if household else None, person=subject if person else None, key_worker=key_worker,
        agency=key_worker.agency, summary=summary.strip(), opened_at=now, opened_by=actor, last_activity_at=now,
    )
    KeyWorkerSpell.objects.create(case=case, key_worker=key_worker, started_at=now, assigned_by=actor,
                                  reason="Case opened")
    event_record(case=case, kind=CaseEvent.Kind.OPENED, actor=actor,
                 summary=f"Case opened with {key_worker.username} ({key_worker.agency.name}) as key worker.")
    _audit(actor, case, "case opened", ip, subject=case.subject_kind, subject_id=case.subject_id)
    return case


@transaction.atomic
def case_transfer(*, actor, case: Case, to: User, reason: str, expected_version: int | None = None,
                  ip=None) -> Case:
    """Hand the case to another key worker; the previous spell is kept."""
    lock(case)
    if actor is not None:
        _require(may_manage_case(actor, case), "Only the key worker or an administrator may transfer this case.")
    check_version(case, expected_version)
    _live(case)
    if not may_hold_cases(to):
        raise ValidationError(f"{to.username} cannot hold cases.")
    if to.pk == case.key_worker_id:
        raise ValidationError("That person is already the key worker.")
    if not reason.strip():
        raise ValidationError("Say why the case is being transferred.")
    now = timezone.now()
    KeyWorkerSpell.objects.filter(case=case, ended_at__isnull=True).update(ended_at=now)
    KeyWorkerSpell.objects.create(case=case, key_worker=to, started_at=now, assigned_by=actor, reason=reason.strip())
    previous = case.key_worker.username
    case.key_worker, case.agency = to, to.agency
    case.version += 1
    case.save(update_fields=["key_worker", "agency", "version"])
    event_record(case=case, kind=CaseEvent.Kind.TRANSFERRED, actor=actor,
                 summary=f"Key worker changed from {previous} to {to.username}: {reason.strip()}")
    _audit(actor, case, "case transferred", ip, to=to.pk)
    return case


@transaction.atomic
def case_set_status(*, actor, case: Case, status: str, expected_version: int | None = None, ip=None) -> Case:
    """Move the case through open → active → closing → closed (→ reopened).

    The row is locked and re-read first, so two simultaneous changes cannot both succeed.
    """
    lock(case)
    if actor is not None:
        _require(may_manage_case(actor, case), "Only the key worker or an administrator may change the status.")
    check_version(case, expected_version)
    status = Status(status)
    if status not in TRANSITIONS[Status(case.status)]:
        raise ValidationError(f"A {case.get_status_display().lower()} case cannot become {status.label.lower()}.")
    if status == Status.CLOSED:
        missing = case.needs.filter(outcome="").count()
        if missing:
            raise ValidationError(f"Record an outcome for every need before closing ({missing} without one).")
        if not case.key_worker.is_active:
            raise ValidationError("Transfer the case to an active key worker first.")
    previous = case.get_status_display()
    case.status = status
    case.closed_at = timezone.now() if status == Status.CLOSED else None
    case.version += 1
    case.save(update_fields=["status", "closed_at", "version"])
    event_record(case=case, kind=CaseEvent.Kind.STATUS, actor=actor, summary=f"{previous} → {status.label}")
    _audit(actor, case, "status changed", ip, status=status.value)
    return case


def need_category_for(words: str) -> NeedCategory | None:
    """The need category the keyword table suggests for the citizen's words."""
    matcher = NeedMatcher(list(NeedKeyword.objects.values_list("phrase", "category_id")))
    category_id = matcher.match(words)
    return NeedCategory.objects.filter(pk=category_id).first() if category_id else None


@transaction.atomic
def need_add(*, actor, case: Case, words: str, category: NeedCategory | None = None, goal: str = "",
             ip=None) -> Need:
    """Record a need in the citizen's own words; uncategorised words are placed by the keyword table."""
    _may_add(actor, case, Section.NEEDS)
    words = words.strip()
    if not words:
        raise ValidationError("Write the need in the citizen's own words.")
    need = Need.objects.create(case=case, words=words, category=category or need_category_for(words),
                               goal=goal.strip(), created_by=actor)
    label = need.category.name if need.category else "not yet categorised"
    event_record(case=case, kind=CaseEvent.Kind.NEED, actor=actor, section=Section.NEEDS,
                 summary=f"“{words}” ({label})")
    _audit(actor, case, "need recorded", ip, need=need.pk)
    return need


@transaction.atomic
def need_outcome(*, actor, need: Need, outcome: str, evidence: str, expected_version: int | None = None,
                 ip=None) -> Need:
    """Record whether things are better, the same or worse for this need, with the evidence."""
    lock(need)
    case = need.case
    if actor is not None:
        _require(may_manage_case(actor, case), "Only the key worker records outcomes.")
    check_version(need, expected_version)
    _live(case)
    outcome = Outcome(outcome)
    if not evidence.strip():
        raise ValidationError("Give the evidence for the outcome.")
    need.outcome, need.outcome_evidence = outcome, evidence.strip()
    need.version += 1
    need.save(update_fields=["outcome", "outcome_evidence", "version"])
    event_record(case=case, kind=CaseEvent.Kind.OUTCOME, actor=actor, section=Section.NEEDS,
                 summary=f"“{need.words}”: {outcome.label.lower()}. {need.outcome_evidence}")
    _audit(actor, case, "outcome recorded", ip, need=need.pk, outcome=outcome.value)
    return need


@transaction.atomic
def need_followup(*, actor, need: Need, outcome: str, evidence: str, expected_version: int | None = None,
                  ip=None) -> Need:
    """Record whether things are better, the same or worse for this need six months after the case closed."""
    lock(need)
    case = Case.objects.get(pk=need.case_id)
    if actor is not None:
        _require(may_manage_case(actor, case), "Only the key worker records the six-month follow-up.")
    check_version(need, expected_version)
    if not followup_open(case):
        raise ValidationError("The six-month follow-up is recorded once six months have passed since the case "
                              "closed.")
    outcome = Outcome(outcome)
    if not evidence.strip():
        raise ValidationError("Give the evidence for the outcome six months on.")
    need.followup_outcome, need.followup_evidence = outcome, evidence.strip()
    need.followup_at, need.followup_by = timezone.now(), actor
    need.version += 1
    need.save(update_fields=["followup_outcome", "followup_evidence", "followup_at", "followup_by", "version"])
    event_record(case=case, kind=CaseEvent.Kind.FOLLOWUP, actor=actor, section=Section.NEEDS,
                 summary=f"“{need.words}” six months after closure: {outcome.label.lower()}. "
                         f"{need.followup_evidence}")
    _audit(actor, case, "six-month follow-up recorded", ip, need=need.pk, outcome=outcome.value)
    return need


@transaction.atomic
def grant_invite(*, actor, case: Case, purpose: str, ends_on: dt.date, invitee: User | None = None,
                 agency=None, may_see: list[str] | None = None, may_add: list[str] | None = None,
                 purpose_code: str = Purpose.KEY_WORK, ip=None) -> Grant:
    """Pull a practitioner (or any case worker of an agency) into the case, for a purpose, until a date.

    Across agencies the grant needs a sharing agreement in force between them that lists the
    grant's purpose (``purpose_code``); it is recorded, and the purpose is carried into what the
    invitee is shown.
    """
    if purpose_code not in Purpose.values:
        raise ValidationError(f"Unknown purpose: choose from {', '.join(Purpose.labels)}.")
    if actor is not None:
        _require(actor.pk == case.key_worker_id or may_manage_case(actor, case),
                 "Only the key worker may pull people into this case.")
    _live(case)
    if invitee is None and agency is None:
        raise ValidationError("Choose a practitioner or an agency to pull in.")
    if invitee is not None:
        if not (invitee.is_active and invitee.role in CASE_WORKING_ROLES and invitee.agency_id):
            raise ValidationError(f"{invitee.username} cannot be pulled into a case.")
        if invitee.pk == case.key_worker_id:
            raise ValidationError("The key worker is already on the case.")
        agency = invitee.agency
    if not purpose.strip():
        raise ValidationError("State the purpose of the pull-in.")
    today = timezone.localdate()
    if ends_on < today:
        raise ValidationError("The end date must not be in the past.")
    if ends_on > today + dt.timedelta(days=MAX_GRANT_DAYS):
        raise ValidationError(f"A pull-in lasts at most {MAX_GRANT_DAYS} days; invite again to extend it.")
    may_see = list(dict.fromkeys(may_see if may_see is not None else DEFAULT_GRANT_SEE))
    may_add = list(dict.fromkeys(may_add if may_add is not None else DEFAULT_GRANT_ADD))
    unknown = (set(may_see) | set(may_add)) - set(Section.values)
    if unknown:
        raise ValidationError(f"Unknown sections: {', '.join(sorted(unknown))}.")
    if not may_see and not may_add:
        raise ValidationError("Choose at least one section the invitee may see.")
    agreement = None
    if agency.pk != case.agency_id:
        agreement = next((a for a in agreements_in_force(between=(case.agency_id, agency.pk)).order_by("reference")
                          if purpose_code in (a.purpose_codes or [])), None)
        if agreement is None:
            raise ValidationError(
                f"There is no sharing agreement in force between {case.agency.name} and {agency.name} "
                f"for {Purpose(purpose_code).label.lower()}, so they cannot be pulled in for it."
            )
    if case.grants.filter(invitee=invitee, agency=agency, state__in=[Grant.State.INVITED, Grant.State.ACCEPTED],
                          ends_on__gte=today).exists():
        raise ValidationError("They already have a pull-in on this case; revoke it to change it.")
    grant = Grant.objects.create(
        case=case, invitee=invitee, agency=agency, purpose=purpose.strip(), purpose_code=purpose_code,
        may_see=may_see, may_add=may_add,
        starts_on=today, ends_on=ends_on, agreement=agreement, invited_by=actor or case.key_worker,
    )
    who = f"{invitee.username} ({agency.name})" if invitee else f"Any case worker at {agency.name}"
    event_record(case=case, kind=CaseEvent.Kind.GRANT_INVITED, actor=actor,
                 summary=f"{who} invited until {ends_on:%d %B %Y}: {grant.purpose}")
    _audit(actor, case, "pull-in invited", ip, grant=grant.pk, agency=agency.code,
           agreement=agreement.reference if agreement else None)
    return grant


def _respond(actor, grant: Grant, state: str, kind: str, verb: str, expected_version, ip) -> Grant:
    grant = Grant.objects.select_for_update(of=("self",)).select_related("case").get(pk=grant.pk)
    _require(may_respond_to_grant(actor, grant), "This invitation is not yours to answer.")
    check_version(grant, expected_version)
    if grant.expired:
        raise ValidationError("This invitation has expired.")
    _live(grant.case)
    grant.state = state
    grant.responded_at = timezone.now()
    if state == Grant.State.ACCEPTED:
        grant.accepted_by = actor
    if grant.invitee_id is None:
        grant.invitee = actor
    grant.version += 1
    grant.save(update_fields=["state", "responded_at", "accepted_by", "invitee", "version"])
    event_record(case=grant.case, kind=kind, actor=actor, summary=f"{actor.username} ({actor.agency.name}) {verb}.")
    _audit(actor, grant.case, f"pull-in {verb}", ip, grant=grant.pk)
    return grant


@transaction.atomic
def grant_accept(*, actor, grant: Grant, expected_version: int | None = None, ip=None) -> Grant:
    """The invitee accepts: from now until the end date they see and add to the sections named."""
    return _respond(actor, grant, Grant.State.ACCEPTED, CaseEvent.Kind.GRANT_ACCEPTED, "accepted",
                    expected_version, ip)


@transaction.atomic
def grant_decline(*, actor, grant: Grant, expected_version: int | None = None, ip=None) -> Grant:
    """The invitee declines; the key worker may invite someone else."""
    return _respond(actor, grant, Grant.State.DECLINED, CaseEvent.Kind.GRANT_DECLINED, "declined",
                    expected_version, ip)


@transaction.atomic
def grant_revoke(*, actor, grant: Grant, reason: str = "", expected_version: int | None = None, ip=None) -> Grant:
    """End a grant now. The invitee's next request is refused; what they added stays on the case."""
    grant = Grant.objects.select_for_update(of=("self",)).select_related("case", "invitee", "agency").get(pk=grant.pk)
    if actor is not None:
        _require(actor.pk == grant.case.key_worker_id or may_manage_case(actor, grant.case),
                 "Only the key worker may revoke a pull-in.")
    check_version(grant, expected_version)
    if grant.state not in (Grant.State.INVITED, Grant.State.ACCEPTED):
        raise ValidationError(f"This pull-in is already {grant.get_state_display().lower()}.")
    grant.state, grant.revoked_at, grant.revoked_by = Grant.State.REVOKED, timezone.now(), actor
    grant.version += 1
    grant.save(update_fields=["state", "revoked_at", "revoked_by", "version"])
    who = grant.invitee.username if grant.invitee else f"any case worker at {grant.agency.name}"
    event_record(case=grant.case, kind=CaseEvent.Kind.GRANT_REVOKED, actor=actor,
                 summary=f"Pull-in of {who} revoked" + (f": {reason.strip()}" if reason.strip() else "."))
    _audit(actor, grant.case, "pull-in revoked", ip, grant=grant.pk)
    return grant


@transaction.atomic
def note_add(*, actor, case: Case, text: str, ip=None) -> Note:
    """Add a note; it lands on the chronology under the author's agency."""
    _may_add(actor, case, Section.NOTES)
    if not text.strip():
        raise ValidationError("Write the note.")
    author = actor or case.key_worker
    note = Note.objects.create(case=case, text=text.strip(), author=author, agency=author.agency)
    event_record(case=case, kind=CaseEvent.Kind.NOTE, actor=actor, section=Section.NOTES, summary=note.text)
    _audit(actor, case, "note added", ip, note=note.pk)
    return note


@transaction.atomic
def action_add(*, actor, case: Case, title: str, owner: User, due_on: dt.date, source: str = "", ip=None) -> Action:
    """Add an action with an owner (someone on the case), their agency and a due date."""
    _may_add(actor, case, Section.ACTIONS)
    if not title.strip():
        raise ValidationError("Say what needs to be done.")
    if not may_own_actions(owner, case):
        raise ValidationError(f"{owner.username} is not on this case; pull them in first.")
    action = Action.objects.create(case=case, title=title.strip(), owner=owner, agency=owner.agency, due_on=due_on,
                                   created_by=actor, source=source[:200])
    event_record(case=case, kind=CaseEvent.Kind.ACTION, actor=actor, section=Section.ACTIONS,
                 summary=f"{action.title} — {owner.username} ({owner.agency.name}), due {due_on:%d %B %Y}"
                 + (f" [{source}]" if source else ""))
    _audit(actor, case, "action added", ip, action=action.pk)
    return action


@transaction.atomic
def action_done(*, actor, action: Action, expected_version: int | None = None, ip=None) -> Action:
    """Mark the action as done (its owner or the case team)."""
    lock(action)
    case = action.case
    if actor is not None:
        _require(actor.pk == action.owner_id or is_case_team(actor, case), "Only the owner or the case team may.")
    check_version(action, expected_version)
    if action.done_at is not None:
        raise ValidationError("This action is already done.")
    action.done_at = timezone.now()
    action.version += 1
    action.save(update_fields=["done_at", "version"])
    event_record(case=case, kind=CaseEvent.Kind.ACTION_DONE, actor=actor, section=Section.ACTIONS,
                 summary=f"Done: {action.title}")
    _audit(actor, case, "action done", ip, action=action.pk)
    return action


@transaction.atomic
def flag_raise(*, actor, case: Case, kind: str, description: str, ip=None) -> Flag:
    """Raise a risk or vulnerability flag, shown as a warning whenever the case is opened."""
    _may_add(actor, case, Section.FLAGS)
    if not description.strip():
        raise ValidationError("Describe the risk or vulnerability.")
    flag = Flag.objects.create(case=case, kind=kind, description=description.strip(),
                               raised_by=actor or case.key_worker)
    event_record(case=case, kind=CaseEvent.Kind.FLAG, actor=actor, section=Section.FLAGS,
                 summary=f"{flag.get_kind_display()}: {flag.description}")
    _audit(actor, case, "flag raised", ip, flag=flag.pk)
    return flag


@transaction.atomic
def flag_remove(*, actor, flag: Flag, expected_version: int | None = None, ip=None) -> Flag:
    """Take a flag down (the case team); it stays in the case's history."""
    lock(flag)
    case = flag.case
    if actor is not None:
        _require(is_case_team(actor, case), "Only the case team may remove a flag.")
    check_version(flag, expected_version)
    if flag.removed_at is not None:
        raise ValidationError("This flag has already been removed.")
    flag.removed_at, flag.removed_by = timezone.now(), actor
    flag.version += 1
    flag.save(update_fields=["removed_at", "removed_by", "version"])
    event_record(case=case, kind=CaseEvent.Kind.FLAG_REMOVED, actor=actor, section=Section.FLAGS,
                 summary=f"Flag removed: {flag.get_kind_display()}")
    _audit(actor, case, "flag removed", ip, flag=flag.pk)
    return flag


# Historical cases -----------------------------------------------------------------------------


@dataclass
class CaseImportResult:
    rows: int = 0
    created: int = 0
    unchanged: int = 0
    batch: str = ""
    warnings: list[str] = field(default_factory=list)


@transaction.atomic
def cases_import(*, actor, path: str | Path, name: str | None = None, ip=None) -> CaseImportResult:
    """Import historical cases from the old system (docs/case-import-format.md).

    The whole file is checked first; any bad row rejects it with ``ImportRejected`` (its problems
    name the line and column) and nothing is kept. A case_ref already imported with the same row
    is left as it is; a changed row for it is refused. Each case written gets a key worker spell,
    a "Case imported" event in its chronology and an audit event; the file gets one more.
    """
    if actor is not None:
        _require(may_import_cases(actor), "Only partnership administrators may import cases.")
    path = Path(path)
    try:
        table = read_table(path, name)
    except FormatError as exc:
        raise ImportRejected(exc.problems) from None
    index, ignored, problems = case_format.read_header(table.header)
    if problems:
        raise ImportRejected(problems)
    today = timezone.localdate()
    rows: list[case_format.CaseRow] = []
    first_line: dict[str, int] = {}
    try:
        for line, values in table.rows:
            row, row_problems = case_format.check_row(line, values, index, today)
            ref = values[index["case_ref"]].strip() if index["case_ref"] < len(values) else ""
            if ref:
                if ref in first_line:
                    row_problems.append(Problem(line, "case_ref", f"repeats the case on line {first_line[ref]}"))
                    row = None
                else:
                    first_line[ref] = line
            problems += row_problems
            if row is not None:
                rows.append(row)
            if len(problems) > MAX_PROBLEMS:
                raise ImportRejected(problems, more=True)
    except FormatError as exc:
        raise ImportRejected(problems + exc.problems) from None
    if not rows and not problems:
        raise ImportRejected([Problem(None, None, "the file has a header but no rows")])
    plan = _ImportPlan(rows)
    problems += plan.check()
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise ImportRejected(problems)

    batch = uuid.uuid4()
    now = timezone.now()
    result = CaseImportResult(rows=len(rows), batch=str(batch), warnings=case_format.ignored_warnings(ignored))
    for row in rows:
        if row.case_ref in plan.existing:
            result.unchanged += 1
            continue
        _import_one(actor, row, plan.subjects[row.line], plan.users[row.key_worker], batch, now, ip)
        result.created += 1
    audit_record(user=actor, action=AuditEvent.Action.IMPORT, object_type="cases", ip=ip,
                 detail={"file": Path(name or path.name).name, "batch": str(batch), "rows": result.rows,
                         "created": result.created, "unchanged": result.unchanged})
    return result


class _ImportPlan:
    """The database's answers about a file's rows: their subjects, key workers and existing cases.

    ``check`` returns the problems; afterwards ``subjects`` (by line), ``users`` (by username) and
    ``existing`` (cases by case_ref, already imported with the same row) hold what the writes need.
    """

    def __init__(self, rows: list[case_format.CaseRow]):
        self.rows = rows
        self.subjects: dict[int, Household | Person] = {}
        self.users: dict[str, User] = {}
        self.existing: dict[str, Case] = {}

    def check(self) -> list[Problem]:
        rows = self.rows
        agencies = dict(Agency.objects.filter(code__in={r.agency for r in rows}).values_list("code", "pk"))
        wanted = {(agencies[r.agency], r.person_ref) for r in rows if r.agency in agencies}
        records = {}
        for chunk in _chunks(sorted(wanted), 500):
            query = Q()
            for agency_id, ref in chunk:
                query |= Q(agency_id=agency_id, person_ref=ref)
            records.update({(a.agency_id, a.person_ref): a for a in AgencyPerson.objects.filter(query)})
        linked = {}
        for chunk in _chunks([a.pk for a in records.values()], 500):
            linked.update({link.agency_person_id: link.person for link in PersonLink.objects.filter(
                agency_person_id__in=chunk, undone_at__isnull=True).select_related("person__household")})
        self.users = {u.username: u for u in User.objects.filter(username__in={r.key_worker for r in rows})}
        for chunk in _chunks(sorted({r.case_ref for r in rows}), 500):
            self.existing.update({c.imported_ref: c for c in Case.objects.filter(imported_ref__in=chunk)})

        problems: list[Problem] = []
        for row in rows:
            problems += self._check_row(row, agencies, records, linked)
        problems += self._check_live()
        return problems

    def _check_row(self, row, agencies, records, linked) -> list[Problem]:
        problems = []
        line = row.line
        existing = self.existing.get(row.case_ref)
        if existing is not None:
            before = existing.imported_row or {}
            changed = next((c for c, v in row.as_imported().items() if before.get(c) != v), None)
            if changed is not None:
                problems.append(Problem(line, changed, f"case {row.case_ref} was imported before with a different "
                                                       f"{changed}; an import does not change a case it imported"))
            return problems  # the same row again: nothing to do
        if row.agency not in agencies:
            problems.append(Problem(line, "agency", f"there is no agency {row.agency}"))
        else:
            record = records.get((agencies[row.agency], row.person_ref))
            person = linked.get(record.pk) if record is not None else None
            if record is None:
                problems.append(Problem(line, "person_ref", f"no agency person {row.person_ref} of {row.agency} has "
                                                            "been imported"))
            elif person is None:
                problems.append(Problem(line, "person_ref", f"agency person {row.person_ref} of {row.agency} is not "
                                                            "linked to a person yet"))
            elif row.subject == "household" and person.household_id is None:
                problems.append(Problem(line, "subject", f"agency person {row.person_ref} of {row.agency} is linked "
                                                         "to a person with no household"))
            else:
                self.subjects[line] = person.household if row.subject == "household" else person
        user = self.users.get(row.key_worker)
        if user is None:
            problems.append(Problem(line, "key_worker", f"no member of staff has the username {row.key_worker}"))
        elif not may_hold_imported_case(user, live=row.live):
            reason = ("is switched off; a case still open needs an active key worker"
                      if user.role in CASE_HOLDING_ROLES and user.agency_id else "cannot hold cases")
            problems.append(Problem(line, "key_worker", f"{row.key_worker} {reason}"))
        return problems

    def _check_live(self) -> list[Problem]:
        """At most one live case on a subject: within the file, and against the cases already live."""
        problems = []
        new_live = [r for r in self.rows if r.live and r.line in self.subjects]
        kinds = {"household": Household, "person": Person}
        keys = {r.line: (r.subject, self.subjects[r.line].pk) for r in new_live}
        # Serialise against cases opened on the same subjects meanwhile, as case_open does.
        for kind, model in kinds.items():
            ids = sorted({pk for k, pk in keys.values() if k == kind})
            if ids:
                list(model.objects.select_for_update(of=("self",)).filter(pk__in=ids).values_list("pk", flat=True))
        live = Case.objects.filter(status__in=LIVE_STATUSES)
        open_households = set(live.filter(household_id__in=[pk for k, pk in keys.values() if k == "household"])
                              .values_list("household_id", flat=True))
        open_people = set(live.filter(person_id__in=[pk for k, pk in keys.values() if k == "person"])
                          .values_list("person_id", flat=True))
        first: dict[tuple[str, int], int] = {}
        for row in new_live:
            key = keys[row.line]
            if key in first:
                problems.append(Problem(row.line, "subject", f"a second live case on the same {row.subject} "
                                                             f"(line {first[key]} opens one and neither is closed)"))
                continue
            first[key] = row.line
            if key[1] in (open_households if key[0] == "household" else open_people):
                problems.append(Problem(row.line, "subject", f"a case is already open on this {row.subject}; "
                                                             "give closed_on or close that case first"))
        return problems


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _import_one(actor, row: case_format.CaseRow, subject, key_worker: User, batch, now, ip) -> Case:
    opened_at = case_format.london_midnight(row.opened_on)
    closed_at = case_format.london_midnight(row.closed_on) if row.closed_on else None
    household = subject if row.subject == "household" else None
    person = subject if row.subject == "person" else None
    # Set directly: the old system recorded no outcomes, so case_set_status's rule for closing does not apply.
    case = Case.objects.create(
        household=household, person=person, key_worker=key_worker, agency=key_worker.agency,
        status=Status.CLOSED if closed_at else Status.ACTIVE, summary=row.summary, opened_at=opened_at,
        opened_by=actor, closed_at=closed_at, last_activity_at=now,
        imported_ref=row.case_ref, imported_at=now, imported_by=actor, import_batch=batch,
        imported_row=row.as_imported(),
    )
    KeyWorkerSpell.objects.create(case=case, key_worker=key_worker, started_at=opened_at, ended_at=closed_at,
                                  assigned_by=actor, reason=f"Imported from {row.case_ref}")
    closed = f", closed on {_day(row.closed_on)}" if row.closed_on else ""
    CaseEvent.objects.create(
        case=case, kind=CaseEvent.Kind.IMPORTED, at=opened_at, actor=actor,
        agency=getattr(actor, "agency", None) if actor is not None else None,
        summary=f"Imported from {row.case_ref}: opened on {_day(row.opened_on)}{closed}, with "
                f"{key_worker.username} ({key_worker.agency.name}) as key worker.",
    )
    audit_record(user=actor, action=AuditEvent.Action.IMPORT, object_type="case", object_id=case.pk,
                 purpose="case imported", ip=ip, detail={"batch": str(batch), "line": row.line,
                                                         "subject": row.subject, "subject_id": subject.pk})
    return case
