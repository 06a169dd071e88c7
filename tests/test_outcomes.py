"""Outcomes per need category: at closure, six months after closure, sustained, not yet due, not recorded."""

import datetime as dt
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from onecase.accounts.models import Role
from onecase.cases import services
from onecase.cases.impact import add_months, local_date
from onecase.cases.models import Case, CaseEvent, Status
from onecase.concurrency import Conflict
from onecase.contacts.models import NeedCategory
from onecase.reports.outcomes import NeedOutcome, outcome_summary, outcomes_for
from onecase.sharing.models import AuditEvent
from tests.auth import sign_in
from tests.factories import UserFactory
from tests.test_cases import agency, open_case, team  # noqa: F401
from tests.test_demand import city  # noqa: F401

TODAY = dt.date(2026, 12, 5)


def test_summary_counts_each_category_at_closure_and_six_months_on():
    long_ago, recently = dt.date(2026, 1, 10), dt.date(2026, 10, 1)
    needs = [
        NeedOutcome("Housing", "better", "better", long_ago),   # sustained
        NeedOutcome("Housing", "better", "same", long_ago),     # did not hold
        NeedOutcome("Housing", "worse", "", long_ago),          # due, follow-up not recorded
        NeedOutcome("Housing", "same", "", recently),           # six months not yet passed
        NeedOutcome("Money", "better", "better", dt.date(2026, 6, 5)),  # due today exactly: counts
        NeedOutcome("", "", "", long_ago),                      # an imported need: nothing recorded
    ]
    summary = outcome_summary(needs, today=TODAY, cases_not_recorded=2)
    assert [c.category for c in summary.categories] == ["Housing", "Money", "Not yet categorised"]
    housing, money, none = summary.categories
    assert housing.needs == 4
    assert housing.at_closure == {"better": 2, "same": 1, "worse": 1, "not_recorded": 0}
    assert housing.six_months == {"better": 1, "same": 1, "worse": 0, "not_yet_due": 1, "not_recorded": 1}
    assert housing.sustained == 1
    assert money.six_months["better"] == 1 and money.sustained == 1
    assert none.at_closure["not_recorded"] == 1 and none.six_months["not_recorded"] == 1
    # The total is the sum of the categories, field by field.
    for part in ("at_closure", "six_months"):
        for key, n in getattr(summary.total, part).items():
            assert n == sum(getattr(c, part)[key] for c in summary.categories)
    assert summary.total.sustained == 2 and summary.total.needs == len(needs)
    assert summary.as_dict()["cases_not_recorded"] == 2


def test_the_day_before_six_months_is_not_yet_due():
    closed = dt.date(2026, 6, 6)
    summary = outcome_summary([NeedOutcome("Housing", "better", "better", closed)], today=TODAY)
    assert summary.total.six_months["not_yet_due"] == 1 and summary.total.sustained == 0


def close_with(team, outcome="better"):  # noqa: F811
    """A case on the team's "smyth" household, one need with ``outcome`` at closure, closed today."""
    case = open_case(team)
    need = services.need_add(actor=team["kw"], case=case, words="help me keep my home")
    services.need_outcome(actor=team["kw"], need=need, outcome=outcome, evidence="Rent paid up")
    services.case_set_status(actor=team["kw"], case=case, status=Status.CLOSING)
    services.case_set_status(actor=team["kw"], case=case, status=Status.CLOSED)
    need.refresh_from_db()
    return case, need


def backdate(case, days):
    Case.objects.filter(pk=case.pk).update(closed_at=timezone.now() - dt.timedelta(days=days))
    case.refresh_from_db()


@pytest.mark.django_db
def test_follow_up_waits_six_months_and_is_audited_and_versioned(team):  # noqa: F811
    case, need = close_with(team)
    with pytest.raises(ValidationError, match="six months"):
        services.need_followup(actor=team["kw"], need=need, outcome="better", evidence="Still in the flat")
    backdate(case, 190)
    with pytest.raises(PermissionDenied):
        services.need_followup(actor=team["officer"], need=need, outcome="better", evidence="x")
    with pytest.raises(ValidationError, match="evidence"):
        services.need_followup(actor=team["kw"], need=need, outcome="better", evidence="  ")
    services.need_followup(actor=team["kw"], need=need, outcome="better", evidence="Still in the flat",
                           expected_version=need.version)
    need.refresh_from_db()
    assert (need.followup_outcome, need.followup_evidence, need.followup_by) == ("better", "Still in the flat",
                                                                                 team["kw"])
    with pytest.raises(Conflict):
        services.need_followup(actor=team["kw"], need=need, outcome="worse", evidence="x",
                               expected_version=need.version - 1)
    assert case.events.filter(kind=CaseEvent.Kind.FOLLOWUP).count() == 1
    assert AuditEvent.objects.filter(object_type="case", object_id=str(case.pk),
                                     purpose="six-month follow-up recorded").count() == 1


@pytest.mark.django_db
def test_outcomes_for_reads_closed_cases_and_says_imported_ones_are_not_recorded(team):  # noqa: F811
    case, need = close_with(team)
    backdate(case, 200)
    services.need_followup(actor=team["kw"], need=need, outcome="better", evidence="Still in the flat")
    recent, _ = close_with({**team, "smyth": team["brown"]}, outcome="same")
    imported = Case.objects.create(person=team["person"], key_worker=team["kw"], agency=team["kw"].agency,
                                   status=Status.CLOSED, closed_at=timezone.now() - dt.timedelta(days=400), imported_ref="OLD-1")
    summary = outcomes_for(Case.objects.all())
    category = need.category.name if need.category else "Not yet categorised"
    row = next(c for c in summary.categories if c.category == category)
    assert row.needs == 2
    assert row.at_closure["better"] == 1 and row.at_closure["same"] == 1
    assert row.six_months["better"] == 1 and row.six_months["not_yet_due"] == 1
    assert row.sustained == 1
    assert summary.cases_not_recorded == 1 and imported.outcomes_not_recorded
    # A live case's needs are not counted: nothing has ended.
    live = services.case_open(actor=team["kw"], key_worker=team["kw"], household=team["smyth"])
    services.need_add(actor=team["kw"], case=live, words="help me keep my home",
                      category=NeedCategory.objects.first())
    assert outcomes_for(Case.objects.all()).total.needs == 2


@pytest.mark.django_db
def test_case_page_offers_the_follow_up_once_due(team, client):  # noqa: F811
    case, need = close_with(team)
    sign_in(client, team["kw"])
    page = client.get(reverse("web:case", args=[case.pk])).content.decode()
    due = add_months(local_date(case.closed_at), 6)
    assert "Six months after closure" in page
    assert f"The six-month follow-up is due on {due.day} {due:%B %Y}" in page
    url = reverse("web:case_need_followup", args=[case.pk, need.pk])
    assert url not in page and client.get(url).status_code == 403
    backdate(case, 190)
    page = client.get(reverse("web:case", args=[case.pk])).content.decode()
    assert url in page
    answer = client.post(url, {"outcome": "same", "evidence": "Arrears back", "version": need.version})
    assert answer.status_code == 302
    need.refresh_from_db()
    assert need.followup_outcome == "same"
    stale = client.post(url, {"outcome": "better", "evidence": "x", "version": need.version - 1})
    assert stale.status_code == 409
    other = UserFactory(agency=agency("POLICE"), role=Role.KEY_WORKER)
    sign_in(client, other)
    assert client.get(url).status_code in (403, 404)


@pytest.mark.django_db
def test_the_impact_page_and_its_downloads_count_outcomes_by_need_category(team, client):  # noqa: F811
    case, need = close_with(team)
    backdate(case, 200)
    services.need_followup(actor=team["kw"], need=need, outcome="better", evidence="Still in the flat")
    close_with({**team, "smyth": team["brown"]}, outcome="worse")
    Case.objects.create(person=team["person"], key_worker=team["kw"], agency=team["kw"].agency,
                        status=Status.CLOSED, closed_at=timezone.now() - dt.timedelta(days=400), imported_ref="OLD-1")
    category = need.category.name if need.category else "Not yet categorised"
    sign_in(client, team["analyst"])
    response = client.get("/impact/")
    assert response.status_code == 200
    rows = {r["category"]: r for r in response.context["outcome_rows"]}
    # Two needs of one category: better then better six months on (sustained), and worse, not yet due.
    # Columns: better, the same, worse, not recorded; six months on adds not yet due before not recorded.
    assert rows[category] == {"category": category, "needs": 2, "at_closure": [1, 0, 1, 0],
                              "six_months": [1, 0, 0, 1, 0], "sustained": 1}
    assert rows["All needs"]["needs"] == 2
    body = response.content.decode()
    assert "Outcomes by need category, at closure and six months on" in body
    assert "Better at closure" in body and "Not yet due six months on" in body
    assert "Outcomes not recorded for 1 imported case" in body
    assert "Still in the flat" not in body  # counts only: the evidence stays on the case
    book = client.get("/impact.xlsx")
    assert book.status_code == 200
    sheet = load_workbook(io.BytesIO(book.content))["Outcomes"]
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[0][:3] == ["need_category", "needs", "at_closure_better"]
    assert [category, 2, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1] in values
