from datetime import timedelta

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from knox.models import AbstractAuthToken

# An API token's last use is recorded to the minute, so busy integrations do not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class Sector(models.TextChoices):
    POLICE = "police", "Police"
    FIRE = "fire", "Fire and rescue"
    COUNCIL = "council", "Council"
    HEALTH = "health", "Health"
    EDUCATION = "education", "Education"
    VOLUNTARY = "voluntary", "Voluntary and community sector"
    OTHER = "other", "Other"


class Agency(models.Model):
    """An organisation in the partnership."""

    code = models.SlugField(max_length=40, unique=True, help_text="Short code used in imports, e.g. POLICE.")
    name = models.CharField(max_length=200)
    sector = models.CharField(max_length=20, choices=Sector.choices, default=Sector.OTHER)
    contact_route = models.CharField(
        max_length=300, blank=True, help_text="How other agencies reach this one about a person (signpost level)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    PARTNERSHIP_ADMIN = "partnership_admin", "Partnership administrator"
    AGENCY_ADMIN = "agency_admin", "Agency administrator"
    KEY_WORKER = "key_worker", "Key worker"
    PRACTITIONER = "practitioner", "Practitioner"
    FRONT_DOOR = "front_door", "Call handler / front door"
    ANALYST = "analyst", "Analyst"
    VOLUNTARY_PARTNER = "voluntary_partner", "Voluntary partner"
    DPO = "dpo", "Data protection officer"
    AUDITOR = "auditor", "Auditor"


class User(AbstractUser):
    """A member of staff. Belongs to one agency and holds one role."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="staff")
    role = models.CharField(max_length=30, choices=Role.choices, default=Role.PRACTITIONER)

    def __str__(self) -> str:
        return self.username


class ApiToken(AbstractAuthToken):
    """An API token for one user. Knox keeps a digest of the secret, never the secret itself.

    ``token_key`` is knox's short lookup prefix of the secret, not enough to use it.
    """

    id = models.BigAutoField(primary_key=True)
    digest = models.CharField(max_length=128, unique=True)
    name = models.CharField(max_length=100)
    expiry = models.DateTimeField()
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return self.name

    @property
    def expired(self) -> bool:
        return self.expiry <= timezone.now()

    def mark_used(self, now=None) -> None:
        """Note the time of use, writing at most once a minute per token."""
        now = now or timezone.now()
        if self.last_used is None or now - self.last_used >= LAST_USED_RESOLUTION:
            type(self).objects.filter(pk=self.pk).update(last_used=now)
            self.last_used = now
