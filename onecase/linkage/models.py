from django.conf import settings
from django.db import models
from django.db.models import F, Q

from onecase.concurrency import version_field


class LinkRun(models.Model):
    """One run of ``onecase link``: what it did, with which parameters, and the model it used.

    Holds counts and model parameters only, never personal data. Incremental runs reuse
    the model of the last finished full run.
    """

    class Mode(models.TextChoices):
        FULL = "full", "Full"
        INCREMENTAL = "incremental", "Incremental"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    mode = models.CharField(max_length=20, choices=Mode.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    engine = models.CharField(max_length=20, default="duckdb")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    records = models.PositiveIntegerField(default=0, help_text="Agency people considered.")
    new_records = models.PositiveIntegerField(default=0, help_text="Agency people (re)linked by this run.")
    pairs = models.PositiveBigIntegerField(default=0, help_text="Scored pairs at or above the review band.")
    people = models.PositiveIntegerField(default=0, help_text="People with at least one agency person.")
    people_created = models.PositiveIntegerField(default=0)
    links_created = models.PositiveIntegerField(default=0)
    links_undone = models.PositiveIntegerField(default=0)
    households = models.PositiveIntegerField(default=0)
    addresses_created = models.PositiveIntegerField(default=0)
    review_items = models.PositiveIntegerField(default=0, help_text="Open review items after the run.")
    seconds = models.FloatField(default=0)
    trained = models.BooleanField(default=False, help_text="The model was estimated on this run's records.")
    options = models.JSONField(default=dict, blank=True)
    model = models.JSONField(default=dict, blank=True, help_text="Model parameters: m and u per level, prior.")
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Link run {self.pk} ({self.mode}, {self.status})"


class LinkDecision(models.Model):
    """A reviewer's decision. Kept with who and when; undone, never deleted.

    Every decision is a set of pair constraints (``DecisionPair``) that later link runs
    respect: confirmed pairs stay together, rejected and split pairs stay apart.
    """

    class Kind(models.TextChoices):
        CONFIRM = "confirm", "Confirmed: the same person"
        REJECT = "reject", "Rejected: not the same person"
        SPLIT = "split", "Split out of a person"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    agency_person = models.ForeignKey(
        "people.AgencyPerson", on_delete=models.CASCADE, related_name="+",
        help_text="The record decided about (for a split, the record split out).",
    )
    other = models.ForeignKey(
        "people.AgencyPerson", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        help_text="The other record of a confirmed or rejected pair.",
    )
    review_item = models.ForeignKey(
        "linkage.ReviewItem", on_delete=models.SET_NULL, null=True, blank=True, related_name="decisions"
    )
    note = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_links = models.ManyToManyField("people.PersonLink", related_name="+", blank=True)
    undid_links = models.ManyToManyField("people.PersonLink", related_name="+", blank=True)
    version = version_field()

    class Meta:
        ordering = ["-decided_at", "-id"]
        indexes = [models.Index(fields=["undone_at", "decided_at"], name="linkdecision_active_idx")]

    def __str__(self) -> str:
        return f"Decision {self.pk} ({self.kind})"


class DecisionPair(models.Model):
    """One pair constraint of a decision: keep these two agency people together, or apart."""

    decision = models.ForeignKey(LinkDecision, on_delete=models.CASCADE, related_name="pairs")
    agency_person_a = models.ForeignKey("people.AgencyPerson", on_delete=models.CASCADE, related_name="+")
    agency_person_b = models.ForeignKey("people.AgencyPerson", on_delete=models.CASCADE, related_name="+")
    together = models.BooleanField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(agency_person_a__lt=F("agency_person_b")), name="decisionpair_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agency_person_a_id} {'with' if self.together else 'apart from'} {self.agency_person_b_id}"


class ReviewItem(models.Model):
    """A pair of agency people whose match probability fell in the review band.

    ``evidence`` holds, per comparison, the level Splink found and its match weight:
    labels and numbers, not the compared values (pages read those from the records).
    """

    class Reason(models.TextChoices):
        POSSIBLE_MATCH = "possible_match", "Possible match, not linked"
        UNCERTAIN_LINK = "uncertain_link", "Linked with low confidence"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CONFIRMED = "confirmed", "Confirmed"
        REJECTED = "rejected", "Rejected"
        SUPERSEDED = "superseded", "Superseded by a later run"

    run = models.ForeignKey(LinkRun, on_delete=models.PROTECT, related_name="review_items_raised")
    agency_person_a = models.ForeignKey("people.AgencyPerson", on_delete=models.CASCADE, related_name="+")
    agency_person_b = models.ForeignKey("people.AgencyPerson", on_delete=models.CASCADE, related_name="+")
    match_probability = models.FloatField()
    match_weight = models.FloatField()
    evidence = models.JSONField(default=list, blank=True)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = version_field()

    class Meta:
        ordering = ["-match_probability", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(agency_person_a__lt=F("agency_person_b")), name="reviewitem_ordered"),
            models.UniqueConstraint(
                fields=["agency_person_a", "agency_person_b"], condition=Q(status="open"), name="reviewitem_one_open"
            ),
        ]
        indexes = [models.Index(fields=["status", "match_probability"], name="reviewitem_queue_idx")]

    def __str__(self) -> str:
        return f"Review {self.pk}: {self.agency_person_a_id} / {self.agency_person_b_id} ({self.match_probability:.2f})"


class LinkRequest(models.Model):
    """New or changed records waiting to be linked: asked for by an upload, a contact or the command line.

    The job worker links every waiting request in one incremental run (``onecase.linkage.jobs``),
    one run at a time; a request asked for while one waits joins it. A running request beats a
    heartbeat, so that one whose worker died is started again, or failed, rather than left running.
    Holds a reason in plain words and the run's counts (through ``run``), never personal data.
    """

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting to link"
        RUNNING = "running", "Linking"
        FINISHED = "finished", "Linked"
        FAILED = "failed", "Linking failed"

    reason = models.CharField(max_length=100, help_text="What asked for the link, in plain words.")
    full = models.BooleanField(default=False, help_text="Relink everything, not only new and changed records.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.WAITING)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=0)
    asks = models.PositiveIntegerField(default=1, help_text="How many uploads, contacts or commands asked for it.")
    claim = models.CharField(max_length=32, blank=True, help_text="The run of the worker that took it.")
    run = models.ForeignKey(LinkRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="requests")
    message = models.TextField(blank=True, help_text="Why linking failed, in plain words.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "claim"], name="linkrequest_status_idx")]

    def __str__(self) -> str:
        return f"Link request {self.pk} ({self.status})"

    @property
    def pending(self) -> bool:
        return self.status in {self.Status.WAITING, self.Status.RUNNING}


class SearchKey(models.Model):
    """One search key of an agency person: the indexed blocking person search starts from.

    Keys are normalised as the link run normalises (``linkage.search``): a nickname group with
    the family name's initial, the family name with the given name's initial, the family name,
    the date of birth, the postcode, the NHS number, the agency's reference. Derived data, kept
    by ``search.search_index_refresh`` from the agency people the database marks as changed.
    """

    agency_person = models.ForeignKey("people.AgencyPerson", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["key", "agency_person"], name="searchkey_key_idx")]

    def __str__(self) -> str:
        return f"Search key of {self.agency_person_id}"


class SearchPending(models.Model):
    """An agency person added or changed since its search keys were made.

    Written by database triggers on every writer (imports, the API, the admin, raw SQL); read by
    every search until ``search.search_index_refresh`` makes the keys and removes it.
    """

    agency_person_id = models.BigIntegerField()

    def __str__(self) -> str:
        return f"Search keys pending for {self.agency_person_id}"
