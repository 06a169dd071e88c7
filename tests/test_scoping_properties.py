"""Property: what a user's lists and counts return equals what the per-object check allows.

Contacts, import jobs and the demand ranking (the search and its export); cases, pull-in grants,
invitations, the staff a case form offers, and meetings.
"""

import datetime as dt
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onecase.accounts.models import Agency, Role, User
from onecase.accounts.rules import may_see_records_of
from onecase.cases.models import Case, Grant, Section
from onecase.cases.rules import (
    CASE_WORKING_ROLES,
    is_case_team,
    may_hold_cases,
    may_manage_case,
    may_open_case_for,
    may_own_actions,
    may_respond_to_grant,
    sections_visible,
)
from onecase.cases.selectors import (
    action_owners_for,
    case_holders_for,
    cases_visible_to,
    grant_for,
    invitations_for,
    new_key_workers_for,
)
from onecase.cases.services import case_open
from onecase.contacts.demand import demand_ranking
from onecase.contacts.models import Contact
from onecase.contacts.selectors import contacts_visible_to
from onecase.imports.jobs import jobs_visible_to
from onecase.imports.models import ImportJob
from onecase.imports.rules import may_view_job
from onecase.meetings.models import MeetingType
from onecase.meetings.rules import may_see_meeting
from onecase.meetings.selectors import meetings_visible_to
from onecase.meetings.services import meeting_create, series_create
from onecase.people.models import AgencyPerson, Person, PersonLink
from onecase.sharing.models import DataCategory, Tier
from onecase.sharing.rules import disclosure_for
from onecase.sharing.services import agreement_create

AGENCIES = ["A", "B", "C"]

users = st.lists(
    st.tuples(st.sampled_from(AGENCIES + [None]), st.sampled_from(Role.values), st.booleans()),
    min_size=1,
    max_size=6,
)
records = st.lists(st.tuples(st.sampled_from(AGENCIES), st.integers(0, 3)), min_size=0, max_size=12)
jobs = st.lists(st.sampled_from(AGENCIES + [None]), max_size=4)
agreements = st.lists(
    st.tuples(st.sampled_from(AGENCIES), st.sampled_from(AGENCIES), st.integers(1, 3),
              st.sets(st.sampled_from(["identity", "contacts", "needs"]), min_size=1),
              st.sets(st.sampled_from(["finding_families", "key_work", "marac"]), min_size=1)),
    max_size=3,
)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(users=users, records=records, jobs=jobs, agreements=agreements)
def test_lists_equal_the_per_object_check(users, records, jobs, agreements):
    with transaction.atomic():
        check(users, records, jobs, agreements)
        transaction.set_rollback(True)  # each example starts from an empty database


def check(users, records, jobs, agreements):
    agencies = {code: Agency.objects.create(code=code, name=code) for code in AGENCIES}
    now = datetime.now(UTC)
    people = {}
    for n, (code, person) in enumerate(records):
        ap, _ = AgencyPerson.objects.get_or_create(agency=agencies[code], person_ref=f"P{person}")
        resolved = people.setdefault(person, Person.objects.create())
        Contact.objects.create(agency=agencies[code], record_id=f"R{n}", agency_person=ap, contact_type="call",
                               person=resolved, occurred_at=datetime(2025, 1, 1, tzinfo=UTC), imported_at=now,
                               updated_at=now)
    creator = User.objects.create(username="creator", role=Role.PARTNERSHIP_ADMIN)
    for n, code in enumerate(jobs):
        ImportJob.objects.create(created_by=creator, agency=agencies.get(code), original_name=f"f{n}.csv",
                                 stored_path=f"/nowhere/{n}")
    sharing = set()
    for n, (first, second, tier, categories, purposes) in enumerate(agreements):
        if first != second:
            agreement_create(actor=None, reference=f"ISA-{n}", title="t", lawful_basis="public_task",
                             purposes="p", purpose_codes=sorted(purposes), data_categories=sorted(categories),
                             starts_on="2020-01-01", parties={agencies[first]: tier, agencies[second]: tier})
            sharing |= {(first, second), (second, first)}
    for n, (code, role, active) in enumerate(users):
        user = User.objects.create(username=f"u{n}", agency=agencies.get(code), role=role, is_active=active)
        visible = set(contacts_visible_to(user).values_list("pk", flat=True))
        allowed = {c.pk for c in Contact.objects.all() if may_see_records_of(user, c.agency_id)}
        assert visible == allowed
        assert contacts_visible_to(user).count() == len(allowed)
        job_ids = set(jobs_visible_to(user).values_list("pk", flat=True))
        assert job_ids == {j.pk for j in ImportJob.objects.all() if may_view_job(user, j)}
        # Search and export (the demand ranking and its CSV) count exactly what disclosure of
        # contacts allows: an agreement counts only if it lists contacts and the everyday purpose.
        counted = {a.pk for a in agencies.values() if role == Role.ANALYST and active
                   or disclosure_for(user, a.pk, category=DataCategory.CONTACTS).tier >= Tier.SUMMARY}
        for a in agencies.values():
            if a.pk != user.agency_id and not (role == Role.PARTNERSHIP_ADMIN and active) and a.pk in counted \
                    and role != Role.ANALYST:
                listed = [(c, p) for (f, s, _, c, p) in agreements if {f, s} == {code, a.code}]
                assert any("contacts" in c and "finding_families" in p for c, p in listed)
        ranked = {row["person_id"]: row["contacts_total"] for row in demand_ranking(user, by="person", top=1000)}
        expected = {}
        for contact in Contact.objects.filter(agency_id__in=counted):
            expected[contact.person_id] = expected.get(contact.person_id, 0) + 1
        assert ranked == expected
        for other, agency in agencies.items():
            tier = disclosure_for(user, agency.pk).tier
            if may_see_records_of(user, agency.pk):
                assert tier == Tier.FULL
            elif (code, other) not in sharing and not (role == Role.PARTNERSHIP_ADMIN and active):
                # With no agreement, another agency's records go no further than a signpost.
                assert tier <= Tier.SIGNPOST


# --- cases, pull-in grants and meetings -------------------------------------------------------

links = st.lists(st.tuples(st.sampled_from(AGENCIES), st.integers(0, 2)), max_size=6)
cases = st.lists(st.tuples(st.integers(0, 12), st.integers(0, 2)), max_size=4)
grants = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 14), st.sampled_from(AGENCIES),
              st.sampled_from(["invited", "accepted", "declined", "revoked"]), st.integers(-3, 3),
              st.sets(st.sampled_from(Section.values), min_size=1, max_size=2)),
    max_size=5,
)
series = st.lists(st.tuples(st.sampled_from(AGENCIES), st.sets(st.sampled_from(AGENCIES), max_size=2)), max_size=3)


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(users=users, links=links, cases=cases, grants=grants, series=series)
def test_case_grant_and_meeting_lists_equal_the_per_object_check(users, links, cases, grants, series):
    with transaction.atomic():
        check_cases(users, links, cases, grants, series)
        transaction.set_rollback(True)


def check_cases(users, links, case_rows, grant_rows, series_rows):
    agencies = {code: Agency.objects.create(code=code, name=code) for code in AGENCIES}
    people = [Person.objects.create() for _ in range(3)]
    for n, (code, person) in enumerate(links):
        record = AgencyPerson.objects.create(agency=agencies[code], person_ref=f"L{n}")
        PersonLink.objects.create(agency_person=record, person=people[person], match_probability=0.99)
    # Case workers and an administrator at two agencies and the partnership, then anyone at all.
    fixed = [(code, role, True) for code in AGENCIES[:2] for role in (Role.KEY_WORKER, Role.PRACTITIONER,
                                                                      Role.AGENCY_ADMIN)]
    staff = [User.objects.create(username=f"u{n}", agency=agencies.get(code), role=role, is_active=active)
             for n, (code, role, active) in enumerate([*fixed, (None, Role.PARTNERSHIP_ADMIN, True), *users])]
    opened = []
    for worker, person in case_rows:
        key_worker = staff[worker % len(staff)]
        try:
            opened.append(case_open(actor=None, key_worker=key_worker, person=people[person]))
        except ValidationError:
            pass  # not a case holder, or the person already has a live case
    today = timezone.localdate()
    for case_n, invitee_n, code, state, days, sections in grant_rows:
        if not opened:
            break
        case = opened[case_n % len(opened)]
        invitee = staff[invitee_n] if invitee_n < len(staff) else None  # beyond the staff: any case worker
        if invitee is not None and not (invitee.role in CASE_WORKING_ROLES and invitee.agency_id):
            continue  # grant_invite pulls in only case workers
        Grant.objects.create(case=case, invitee=invitee, agency=invitee.agency if invitee else agencies[code],
                             purpose="p", may_see=sorted(sections), may_add=[], state=state,
                             starts_on=today - dt.timedelta(days=5), ends_on=today + dt.timedelta(days=days),
                             invited_by=case.key_worker)
    meetings = []
    for n, (chair, members) in enumerate(series_rows):
        made = series_create(actor=None, kind=MeetingType.MARAC, name=f"S{n}", chair_agency=agencies[chair],
                             members=[agencies[code] for code in sorted(members)])
        meetings.append(meeting_create(actor=None, series=made, held_on=today))
    all_cases, all_grants = list(Case.objects.all()), list(Grant.objects.select_related("case"))
    for user in staff:
        # A case is listed exactly when its page shows the user some part of it.
        assert set(cases_visible_to(user).values_list("pk", flat=True)) == {
            c.pk for c in all_cases if sections_visible(user, c)}
        assert set(meetings_visible_to(user).values_list("pk", flat=True)) == {
            m.pk for m in meetings if may_see_meeting(user, m)}
        assert set(invitations_for(user).values_list("pk", flat=True)) == {
            g.pk for g in all_grants if may_respond_to_grant(user, g) and g.ends_on >= today and g.case.is_live}
        # Who a user may name as key worker of a new case is who the service lets them.
        assert set(case_holders_for(user)) == {other for other in staff if may_open_case_for(user, other)}
        for case in all_cases:
            holders = {other for other in staff if may_hold_cases(other) and other.pk != case.key_worker_id}
            assert set(new_key_workers_for(user, case)) == (holders if may_manage_case(user, case) else set())
            owners = set(action_owners_for(user, case))
            assert owners <= {other for other in staff if may_own_actions(other, case)}
            assert bool(owners) == bool(sections_visible(user, case))
            for grant in all_grants:
                if grant.case_id != case.pk:
                    continue
                try:
                    found = grant_for(user, case, grant.pk)
                except Http404:
                    found = None
                assert (found is not None) == (is_case_team(user, case) or grant.invitee_id == user.pk)
