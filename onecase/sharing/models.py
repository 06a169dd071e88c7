import pghistory
from django.conf import settings
from django.db import models

from onecase.accounts.models import Role
from onecase.audit.models import AuditEvent  # noqa: F401  (the audit layer's, read here by older imports)
from onecase.concurrency import version_field


class Tier(models.IntegerChoices):
    """Levels of disclosure of another agency's records, lowest first."""

    NONE = 0, "None"
    SIGNPOST = 1, "Signpost"
    SUMMARY = 2, "Summary"
    FULL = 3, "Full"


class DataCategory(models.TextChoices):
    IDENTITY = "identity", "Identity"
    CONTACTS = "contacts", "Contacts by agency"
    NEEDS = "needs", "Presenting needs"
    CASE_NOTES = "case_notes", "Case notes"
    RISK_FLAGS = "risk_flags", "Risk flags"
    POLICE_INTELLIGENCE = "police_intelligence", "Police intelligence"


class Purpose(models.TextChoices):
    """What shared data may be used for. An agreement lists the purposes it may be relied on for;
    a view carries the purpose of the work it is part of (see ``sharing.purposes``)."""

    FINDING_FAMILIES = "finding_families", "Finding the people and families who need a key worker"
    KEY_WORK = "key_work", "Coordinating support around a person or family"
    SAFEGUARDING = "safeguarding", "Safeguarding a child or adult at risk"
    MARAC = "marac", "Safety planning for victims of high-risk domestic abuse (MARAC)"
    ASB_CASE_REVIEW = "asb_case_review", "Resolving persistent anti-social behaviour (ASB case review)"


class LawfulBasis(models.TextChoices):
    PUBLIC_TASK = "public_task", "UK GDPR Art. 6(1)(e) public task"
    LEGAL_OBLIGATION = "legal_obligation", "UK GDPR Art. 6(1)(c) legal obligation"
    VITAL_INTERESTS = "vital_interests", "UK GDPR Art. 6(1)(d) vital interests"
    CONSENT = "consent", "UK GDPR Art. 6(1)(a) consent"
    LEGITIMATE_INTERESTS = "legitimate_interests", "UK GDPR Art. 6(1)(f) legitimate interests"
    LAW_ENFORCEMENT = "law_enforcement", "DPA 2018 Part 3 law enforcement"


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent(), append_only=True)
class Agreement(models.Model):
    """An information sharing agreement: what may be shared, with whom, why and until when."""

    reference = models.CharField(max_length=60, unique=True)
    title = models.CharField(max_length=200)
    lawful_basis = models.CharField(max_length=30, choices=LawfulBasis.choices)
    special_category_condition = models.CharField(
        max_length=200, blank=True, help_text="UK GDPR Article 9 condition, where special category data is shared."
    )
    purposes = models.TextField(
        "purposes in the agreement's words",
        help_text="The purposes data may be used for, as the signed agreement words them.",
    )
    purpose_codes = models.JSONField(
        "purposes it may be relied on for", default=list,
        help_text="A tier under this agreement holds only for work with one of these purposes.",
    )
    data_categories = models.JSONField(
        default=list, help_text="A tier under this agreement holds only for the data categories listed."
    )
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    review_on = models.DateField(null=True, blank=True)
    signed_document_ref = models.CharField(max_length=200, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    version = version_field()

    class Meta:
        ordering = ["reference"]

    def __str__(self) -> str:
        return f"{self.reference}: {self.title}"


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent(), append_only=True)
class AgreementParty(models.Model):
    """An agency party to an agreement, and the highest tier it may receive under it."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="parties")
    agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="agreement_parties")
    max_tier = models.PositiveSmallIntegerField(choices=Tier.choices, default=Tier.SUMMARY)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agreement", "agency"], name="agreementparty_uniq")]
        verbose_name_plural = "agreement parties"

    def __str__(self) -> str:
        return f"{self.agency_id} in {self.agreement_id} ({self.get_max_tier_display()})"


class DisclosureRequest(models.Model):
    """A request to see more of another agency's records about one person, for a purpose."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a decision"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"
        WITHDRAWN = "withdrawn", "Withdrawn"

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="disclosure_requests")
    owner_agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+")
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, default=Tier.FULL)
    purpose = models.CharField(max_length=300)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"Disclosure request {self.pk} ({self.status})"


class BreakGlass(models.Model):
    """Emergency full access to one person's records, with a stated reason. Time-limited."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500)
    started_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name_plural = "break-glass accesses"

    def __str__(self) -> str:
        return f"Break the glass {self.pk}"


class BreakGlassRole(models.Model):
    """A partnership setting: whether staff in this role at this agency may break the glass.

    No row, or ``allowed`` off, means they may not. New agencies get the defaults of
    ``sharing.services.break_glass_roles_default``.
    """

    agency = models.ForeignKey("accounts.Agency", on_delete=models.CASCADE, related_name="break_glass_roles")
    role = models.CharField(max_length=30, choices=Role.choices)
    allowed = models.BooleanField(default=False, help_text="May staff in this role at this agency break the glass?")

    class Meta:
        ordering = ["agency__name", "role"]
        constraints = [models.UniqueConstraint(fields=["agency", "role"], name="breakglassrole_uniq")]
        verbose_name = "who may break the glass"
        verbose_name_plural = "who may break the glass"

    def __str__(self) -> str:
        return f"{self.get_role_display()} at {self.agency_id}"


class AnomalyRule(models.TextChoices):
    """Why access looks unusual (``sharing.selectors.access_findings``)."""

    VOLUME = "volume", "Viewed many people"
    OUT_OF_HOURS = "out_of_hours", "Viewed people out of hours"
    UNLINKED = "unlinked", "Viewed people with no case or pull-in link to them"
    VIP = "vip", "Viewed someone marked for extra protection"


class Alert(models.Model):
    """A notice for an agency's data protection officer, e.g. that someone broke the glass."""

    class Kind(models.TextChoices):
        BREAK_GLASS = "break_glass", "Break the glass"
        ANOMALY = "anomaly", "Unusual access"

    agency = models.ForeignKey("accounts.Agency", on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    rule = models.CharField(max_length=20, choices=AnomalyRule.choices, blank=True)
    day = models.DateField(null=True, blank=True, help_text="Unusual access: the UK day the views happened.")
    message = models.CharField(max_length=300, help_text="Ids and counts only, never personal data.")
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Unusual access is raised once per user, rule, day and agency, however often detection runs.
            models.UniqueConstraint(fields=["agency", "kind", "rule", "object_type", "object_id", "day"],
                                    condition=models.Q(day__isnull=False), name="alert_once_a_day"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} alert {self.pk}"
