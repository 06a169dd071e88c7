"""Cases: one key worker owns each case and pulls in expertise from other agencies.

A case is opened on a person or a household (the ids of ``export_links``). Everything that
happens on it is a ``CaseEvent``; the chronology merges those with the subject's contacts.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from onecase.concurrency import version_field
from onecase.people.models import ONE_SUBJECT, SubjectMixin
from onecase.sharing.models import Purpose


class Status(models.TextChoices):
    OPEN = "open", "Open"
    ACTIVE = "active", "Active"
    CLOSING = "closing", "Closing"
    CLOSED = "closed", "Closed"
    REOPENED = "reopened", "Reopened"


LIVE_STATUSES = (Status.OPEN, Status.ACTIVE, Status.CLOSING, Status.REOPENED)


class Section(models.TextChoices):
    """The parts of a case a pull-in grant can open to an invitee."""

    NEEDS = "needs", "What matters to me"
    CHRONOLOGY = "chronology", "Chronology"
    NOTES = "notes", "Notes"
    ACTIONS = "actions", "Actions"
    FLAGS = "flags", "Risk and vulnerability flags"


class Case(SubjectMixin, models.Model):
    """A person or household owned by exactly one key worker while it is open."""

    household = models.ForeignKey(
        "people.Household", on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, null=True, blank=True, related_name="cases")
    key_worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cases_owned")
    agency = models.ForeignKey(
        "accounts.Agency", on_delete=models.PROTECT, related_name="cases", help_text="The key worker's agency."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    summary = models.TextField(blank=True, help_text="The real problems to solve, as the key worker understands them.")
    opened_at = models.DateTimeField(default=timezone.now)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(default=timezone.now)
    version = version_field()  # of the status, key worker and summary
    # A case brought over from the partnership's old system (``cases.services.cases_import``).
    imported_ref = models.CharField(
        "reference in the old system", max_length=100, blank=True,
        help_text="The case's reference in the system it was imported from; empty for a case opened here.",
    )
    imported_at = models.DateTimeField(null=True, blank=True, help_text="When the case was imported.")
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="Who imported it (empty: an operator at the command line).",
    )
    import_batch = models.UUIDField(
        null=True, blank=True, help_text="The import that wrote the case; its audit event names the same batch."
    )
    imported_row = models.JSONField(
        default=dict, blank=True,
        help_text="The row as imported, so that importing it again changes nothing and a changed row is refused.",
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=ONE_SUBJECT, name="case_one_subject"),
            models.UniqueConstraint(fields=["imported_ref"], condition=~Q(imported_ref=""),
                                    name="case_imported_ref_unique"),
        ]
        indexes = [
            models.Index(fields=["key_worker", "status"], name="case_keyworker_idx"),
        ]

    def __str__(self) -> str:
        return f"Case {self.pk}"

    @property
    def reference(self) -> str:
        return f"C-{self.pk:06d}"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def is_imported(self) -> bool:
        return bool(self.imported_ref)

    @property
    def outcomes_not_recorded(self) -> bool:
        """An imported closed case whose outcomes the old system did not record (no need has one here)."""
        if not self.imported_ref or self.status != Status.CLOSED:
            return False
        return not self.needs.exclude(outcome="").exists()


class KeyWorkerSpell(models.Model):
    """Who owned the case, from when to when: transfers keep their history."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="key_worker_spells")
    key_worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"{self.key_worker} from {self.started_at:%Y-%m-%d}"


class Outcome(models.TextChoices):
    BETTER = "better", "Better"
    SAME = "same", "The same"
    WORSE = "worse", "Worse"


class Need(models.Model):
    """A need or problem to solve, in the citizen's own words, with a goal and, at closure, an outcome."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="needs")
    words = models.TextField(help_text="In the citizen's own words.")
    category = models.ForeignKey(
        "contacts.NeedCategory", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    goal = models.TextField(blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    outcome_evidence = models.TextField(blank=True)
    # The follow-up six months after closure: does the outcome hold? (``services.need_followup``)
    followup_outcome = models.CharField("outcome six months after closure", max_length=10,
                                        choices=Outcome.choices, blank=True)
    followup_evidence = models.TextField("evidence six months after closure", blank=True)
    followup_at = models.DateTimeField(null=True, blank=True)
    followup_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    version = version_field()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Need {self.pk} on case {self.case_id}"


class Grant(models.Model):
    """A pull-in: the key worker invites a practitioner (or any of an agency's staff) onto the case.

    Ownership never moves. The grant opens named sections to read and to add to, until its end date.
    """

    class State(models.TextChoices):
        INVITED = "invited", "Invited"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        REVOKED = "revoked", "Revoked"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="grants")
    invitee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="case_grants"
    )
    agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="case_grants")
    purpose = models.CharField(max_length=500)
    purpose_code = models.CharField(
        "purpose of the work", max_length=30, choices=Purpose.choices, default=Purpose.KEY_WORK,
        help_text="What the pull-in is for: another agency's records are shared only under an agreement for it.",
    )
    may_see = models.JSONField(default=list, help_text="Sections the invitee may see.")
    may_add = models.JSONField(default=list, help_text="Sections the invitee may add to.")
    starts_on = models.DateField(default=timezone.localdate)
    ends_on = models.DateField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.INVITED)
    agreement = models.ForeignKey(
        "sharing.Agreement", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="The sharing agreement the grant relies on, when the invitee is in another agency.",
    )
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    invited_at = models.DateTimeField(default=timezone.now)
    responded_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    version = version_field()

    class Meta:
        ordering = ["-invited_at", "-id"]

    def __str__(self) -> str:
        return f"Pull-in {self.pk} on case {self.case_id}"

    def in_force(self, on=None) -> bool:
        on = on or timezone.localdate()
        return self.state == self.State.ACCEPTED and self.starts_on <= on <= self.ends_on

    @property
    def expired(self) -> bool:
        return self.state in (self.State.INVITED, self.State.ACCEPTED) and self.ends_on < timezone.localdate()

    @property
    def status_label(self) -> str:
        return "Expired" if self.expired else self.get_state_display()


class Action(models.Model):
    """Something to be done on the case, owned by one person in one agency."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="actions")
    title = models.CharField(max_length=300)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="case_actions")
    agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField()
    done_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=200, blank=True, help_text="Where it came from, e.g. a meeting decision.")
    version = version_field()

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [models.Index(fields=["owner", "done_at", "due_on"], name="action_owner_due_idx")]

    def __str__(self) -> str:
        return f"Action {self.pk} on case {self.case_id}"

    @property
    def overdue(self) -> bool:
        return self.done_at is None and self.due_on < timezone.localdate()


class Note(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    text = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Note {self.pk} on case {self.case_id}"


class FlagKind(models.TextChoices):
    RISK_TO_STAFF = "risk_to_staff", "Risk to staff (lone working)"
    DOMESTIC_ABUSE = "domestic_abuse", "Domestic abuse"
    CHILD_SAFEGUARDING = "child_safeguarding", "Child safeguarding"
    ADULT_SAFEGUARDING = "adult_safeguarding", "Adult safeguarding"
    SELF_HARM = "self_harm", "Self-harm or suicide risk"
    COMMUNICATION = "communication", "Communication needs"
    OTHER = "other", "Other"


class Flag(models.Model):
    """A risk or vulnerability flag, shown as a warning whenever the case is opened."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="flags")
    kind = models.CharField(max_length=30, choices=FlagKind.choices)
    description = models.CharField(max_length=500)
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    raised_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    version = version_field()

    class Meta:
        ordering = ["-raised_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on case {self.case_id}"


class CaseEvent(models.Model):
    """One entry of the case's own history; the chronology merges these with the subject's contacts."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Case opened"
        STATUS = "status", "Status changed"
        TRANSFERRED = "transferred", "Key worker changed"
        NEED = "need", "Need recorded"
        OUTCOME = "outcome", "Outcome recorded"
        FOLLOWUP = "followup", "Six-month follow-up recorded"
        GRANT_INVITED = "grant_invited", "Pull-in invitation"
        GRANT_ACCEPTED = "grant_accepted", "Pull-in accepted"
        GRANT_DECLINED = "grant_declined", "Pull-in declined"
        GRANT_REVOKED = "grant_revoked", "Pull-in revoked"
        NOTE = "note", "Note"
        ACTION = "action", "Action added"
        ACTION_DONE = "action_done", "Action done"
        FLAG = "flag", "Flag raised"
        FLAG_REMOVED = "flag_removed", "Flag removed"
        MEETING = "meeting", "Meeting decision"
        IMPORTED = "imported", "Case imported"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    agency = models.ForeignKey("accounts.Agency", on_delete=models.SET_NULL, null=True, related_name="+")
    section = models.CharField(max_length=20, choices=Section.choices, blank=True)
    summary = models.TextField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["case", "at"], name="caseevent_case_at_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on case {self.case_id}"
