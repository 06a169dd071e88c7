"""Property: what a user's lists and counts return equals what the per-object check allows."""

from datetime import UTC, datetime

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onecase.accounts.models import Agency, Role, User
from onecase.accounts.rules import may_see_records_of
from onecase.contacts.demand import demand_ranking
from onecase.contacts.models import Contact
from onecase.contacts.selectors import contacts_visible_to
from onecase.imports.jobs import jobs_visible_to, may_view_job
from onecase.imports.models import ImportJob
from onecase.people.models import AgencyPerson, Person
from onecase.sharing.models import Tier
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
agreements = st.lists(st.tuples(st.sampled_from(AGENCIES), st.sampled_from(AGENCIES), st.integers(1, 3)), max_size=3)


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
    for n, (first, second, tier) in enumerate(agreements):
        if first != second:
            agreement_create(actor=None, reference=f"ISA-{n}", title="t", lawful_basis="public_task",
                             purposes="p", data_categories=["identity"], starts_on="2020-01-01",
                             parties={agencies[first]: tier, agencies[second]: tier})
            sharing |= {(first, second), (second, first)}
    for n, (code, role, active) in enumerate(users):
        user = User.objects.create(username=f"u{n}", agency=agencies.get(code), role=role, is_active=active)
        visible = set(contacts_visible_to(user).values_list("pk", flat=True))
        allowed = {c.pk for c in Contact.objects.all() if may_see_records_of(user, c.agency_id)}
        assert visible == allowed
        assert contacts_visible_to(user).count() == len(allowed)
        job_ids = set(jobs_visible_to(user).values_list("pk", flat=True))
        assert job_ids == {j.pk for j in ImportJob.objects.all() if may_view_job(user, j)}
        # Search and export (the demand ranking and its CSV) count exactly what disclosure allows.
        counted = {a.pk for a in agencies.values() if role == Role.ANALYST and active
                   or disclosure_for(user, a.pk).tier >= Tier.SUMMARY}
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
