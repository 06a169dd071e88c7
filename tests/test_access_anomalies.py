"""Unusual access: each rule, the key worker's own cases left out, alerts once a day to the right agency,
and what a DPO may see of it."""

import datetime as dt
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied
from django_q.models import Schedule

from onecase.accounts.models import Role
from onecase.cases.selectors import caseload_people
from onecase.cases.services import case_open, grant_accept, grant_invite
from onecase.cases.tasks import raise_unusual_access_alerts
from onecase.people.models import AgencyPerson, Person, PersonLink
from onecase.people.services import person_vip_set
from onecase.sharing.models import Alert, AnomalyRule, AuditEvent
from onecase.sharing.selectors import alerts_for, unusual_access
from onecase.sharing.services import anomaly_alerts_raise, audit_record
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db

UK = ZoneInfo("Europe/London")
WEDNESDAY = dt.date(2025, 6, 11)
NOON = dt.datetime(2025, 6, 11, 12, 0, tzinfo=UK)


@pytest.fixture(autouse=True)
def thresholds(settings):
    # Volume at 3 people; unlinked needs more than 1, so one stray view is left to the other rules.
    settings.ONECASE_ACCESS_ANOMALY = {"volume_people": 3, "unlinked_people": 1}


@pytest.fixture
def police():
    return AgencyFactory(code="POLICE")


@pytest.fixture
def housing():
    return AgencyFactory(code="HOUSING")


def held_by(agency, n=1, **person):
    """``n`` people, each with one record ``agency`` holds."""
    people = []
    for _ in range(n):
        someone = Person.objects.create(**person)
        record = AgencyPerson.objects.create(agency=agency, person_ref=f"R{someone.pk}")
        PersonLink.objects.create(agency_person=record, person=someone, match_probability=0.99)
        people.append(someone)
    return people


def view(user, person, at=NOON):
    with mock.patch("django.utils.timezone.now", return_value=at):
        audit_record(user=user, action=AuditEvent.Action.VIEW, object_type="person", object_id=person.pk)


def detect(day=WEDNESDAY):
    return anomaly_alerts_raise(actor=None, day=day, caseload=caseload_people)


def rules_raised(alerts, user):
    return sorted(a.rule for a in alerts if a.object_id == str(user.pk))


def test_volume_is_more_people_than_the_threshold_in_a_day(police, housing):
    busy, steady = UserFactory(agency=police), UserFactory(agency=police)
    for someone in held_by(housing, 4):
        view(busy, someone)
    for someone in held_by(housing, 3):
        view(steady, someone)
    alerts = detect()
    assert AnomalyRule.VOLUME in rules_raised(alerts, busy)
    assert AnomalyRule.VOLUME not in rules_raised(alerts, steady)


def test_out_of_hours_is_evenings_nights_and_weekends_uk_time(police, housing):
    late, weekend, daytime = (UserFactory(agency=police) for _ in range(3))
    someone, = held_by(housing)
    view(late, someone, dt.datetime(2025, 6, 11, 21, 30, tzinfo=UK))
    view(daytime, someone, dt.datetime(2025, 6, 11, 19, 59, tzinfo=UK))
    view(weekend, someone, dt.datetime(2025, 6, 14, 11, 0, tzinfo=UK))
    assert rules_raised(detect(), late) == [AnomalyRule.OUT_OF_HOURS]
    assert rules_raised(detect(dt.date(2025, 6, 14)), weekend) == [AnomalyRule.OUT_OF_HOURS]
    assert rules_raised(Alert.objects.all(), daytime) == []


def test_out_of_hours_follows_the_settings(settings, police, housing):
    settings.ONECASE_ACCESS_ANOMALY = {"working_hours": (8, 22), "working_days": (0, 1, 2, 3, 4, 5, 6)}
    user = UserFactory(agency=police)
    someone, = held_by(housing)
    view(user, someone, dt.datetime(2025, 6, 11, 21, 30, tzinfo=UK))
    assert AnomalyRule.OUT_OF_HOURS not in rules_raised(detect(), user)


def test_people_with_no_case_or_pull_in_link_are_unusual(police, housing):
    user = UserFactory(agency=police)
    for someone in held_by(housing, 2):
        view(user, someone)
    assert rules_raised(detect(), user) == [AnomalyRule.UNLINKED]


def test_a_person_marked_for_extra_protection_alerts_on_one_view(police, housing):
    user = UserFactory(agency=police)
    someone, = held_by(housing, vip=True)
    view(user, someone)
    alerts = detect()
    assert rules_raised(alerts, user) == [AnomalyRule.VIP]
    assert alerts[0].message.startswith("Viewed someone marked for extra protection")


def test_a_key_workers_own_case_and_a_case_they_are_pulled_into_are_never_unusual(police, housing):
    key_worker = UserFactory(agency=housing, role=Role.KEY_WORKER)
    pulled_in = UserFactory(agency=housing, role=Role.PRACTITIONER)
    someone, = held_by(housing, vip=True)
    case = case_open(actor=None, key_worker=key_worker, person=someone)
    grant = grant_invite(actor=None, case=case, invitee=pulled_in, purpose="Housing support",
                         ends_on=dt.date.today() + dt.timedelta(days=30))
    grant_accept(actor=pulled_in, grant=grant)
    night = dt.datetime(2025, 6, 11, 23, 0, tzinfo=UK)
    for user in (key_worker, pulled_in):
        view(user, someone, night)
        view(user, someone)
    assert detect() == []
    assert unusual_access(UserFactory(role=Role.AUDITOR), since=NOON - dt.timedelta(hours=1),
                          caseload=caseload_people) == []
    stranger = UserFactory(agency=housing)
    view(stranger, someone, night)
    assert rules_raised(detect(), stranger) == [AnomalyRule.OUT_OF_HOURS, AnomalyRule.VIP]


def test_detection_twice_raises_nothing_new(police, housing):
    user = UserFactory(agency=police)
    for someone in held_by(housing, 4, vip=True):
        view(user, someone)
    first = detect()
    assert len(first) == 3  # volume, unlinked, vip: one housing alert each
    assert detect() == []
    assert Alert.objects.filter(kind=Alert.Kind.ANOMALY).count() == 3
    raised = AuditEvent.objects.filter(object_type="alert", action=AuditEvent.Action.CHANGE)
    assert raised.count() == 3
    assert sorted(raised.first().detail) == ["agency_id", "day", "kind", "people", "rule", "user_id"]
    assert raised.first().detail["people"] == 4


def test_alerts_go_to_each_agency_whose_records_were_viewed(police, housing):
    fire = AgencyFactory(code="FIRE")
    user = UserFactory(agency=police)
    shared, = held_by(housing, vip=True)
    record = AgencyPerson.objects.create(agency=fire, person_ref="F1")
    PersonLink.objects.create(agency_person=record, person=shared, match_probability=0.99)
    view(user, shared)
    alerts = detect()
    assert sorted(a.agency.code for a in alerts) == ["FIRE", "HOUSING"]
    police_dpo = UserFactory(agency=police, role=Role.DPO)
    housing_dpo = UserFactory(agency=housing, role=Role.DPO)
    assert list(alerts_for(police_dpo)) == []
    assert [a.rule for a in alerts_for(housing_dpo)] == [AnomalyRule.VIP]


def test_the_job_worker_runs_detection_every_15_minutes(police, housing):
    schedule = Schedule.objects.get(func="onecase.cases.tasks.raise_unusual_access_alerts")
    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 15)
    user = UserFactory(agency=police)
    someone, = held_by(housing, vip=True)
    view(user, someone)
    with mock.patch("django.utils.timezone.now", return_value=NOON + dt.timedelta(minutes=15)):
        assert raise_unusual_access_alerts() == 1
        assert raise_unusual_access_alerts() == 0


def test_a_dpo_sees_their_own_staff_and_their_own_records_only(police, housing):
    police_officer = UserFactory(agency=police, username="pc-plod")
    housing_officer = UserFactory(agency=housing, username="housing-officer")
    for someone in held_by(housing, 2):
        view(housing_officer, someone, dt.datetime.now(UK))
        view(police_officer, someone, dt.datetime.now(UK))
    police_dpo = UserFactory(agency=police, role=Role.DPO)
    housing_dpo = UserFactory(agency=housing, role=Role.DPO)
    fire_dpo = UserFactory(agency=AgencyFactory(code="FIRE"), role=Role.DPO)
    assert {row["username"] for row in unusual_access(police_dpo)} == {"pc-plod"}
    assert {row["username"] for row in unusual_access(housing_dpo)} == {"pc-plod", "housing-officer"}
    assert unusual_access(fire_dpo) == []
    assert {row["username"] for row in unusual_access(UserFactory(agency=police, role=Role.AUDITOR))} == {
        "pc-plod", "housing-officer"}
    assert unusual_access(UserFactory(agency=housing, role=Role.KEY_WORKER)) == []


def test_extra_protection_is_set_in_the_admin_pages_and_audited(client, housing):
    someone, = held_by(housing)
    admin_user = UserFactory(role=Role.PARTNERSHIP_ADMIN, is_staff=True, is_superuser=True)
    sign_in(client, admin_user)
    response = client.post(f"/admin/people/person/{someone.pk}/change/", {"vip": "on"})
    assert response.status_code == 302
    someone.refresh_from_db()
    assert someone.vip
    event = AuditEvent.objects.get(object_type="person", object_id=str(someone.pk), action="change")
    assert event.user == admin_user and event.detail == {"extra_protection": True}


def test_only_the_partnership_marks_people_for_extra_protection(housing):
    someone, = held_by(housing)
    with pytest.raises(PermissionDenied):
        person_vip_set(actor=UserFactory(agency=housing, role=Role.DPO), person=someone, vip=True)
    someone.refresh_from_db()
    assert not someone.vip and not AuditEvent.objects.filter(object_type="person").exists()
