"""Work done by the job worker (django-q2) on its schedule. Logs carry counts only."""

import datetime as dt
import logging

from django.utils import timezone

from onecase.cases.selectors import caseload_people
from onecase.sharing.services import anomaly_alerts_raise

log = logging.getLogger(__name__)


def raise_unusual_access_alerts() -> int:
    """Every 15 minutes: alert DPOs to today's unusual access (and yesterday's, in the first hour
    of a day, so that views just before midnight are not missed). Returns how many alerts were raised."""
    now = timezone.localtime()
    days = [now.date()] + ([now.date() - dt.timedelta(days=1)] if now.hour == 0 else [])
    raised = sum(len(anomaly_alerts_raise(actor=None, day=day, caseload=caseload_people)) for day in days)
    log.info("unusual access: %d alerts raised", raised)
    return raised
