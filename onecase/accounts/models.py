from django.contrib.auth.models import AbstractUser
from django.db import models


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
