"""Every page and API view that returns another agency's data records a disclosure in the same request.

Driven by the permission matrix: agency A, under an agreement with B, opens every URL the matrix
lists; wherever B's records show through, a disclose event naming B must have been written by
that very request. And no page or API view writes audit rows itself: the reads do.
"""

import datetime as dt
import re
from pathlib import Path

import pytest

from onecase.accounts.models import Role
from onecase.accounts.rules import NO_PERSON_ACCESS
from onecase.audit.models import AuditEvent
from onecase.sharing.models import Tier
from onecase.sharing.services import agreement_create
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory
from tests.test_permission_matrix import (  # noqa: F401  (agency_b is a fixture)
    AUDIT_URLS,
    B_SECRET_NAME,
    B_SECRET_NEED,
    CONTACT_FORMS,
    LIST_URLS,
    OBJECT_URLS,
    PERSON_FORMS,
    SEARCH_URLS,
    SUBJECT_FORMS,
    TIERED_URLS,
    agency_b,
)

PURPOSES = ["finding_families", "key_work"]  # the everyday purpose, and key work on cases

pytestmark = pytest.mark.django_db

B_ADDRESS = "1 Bravo Row"  # the household's address, known from B's records only
SEEING_ROLES = [r for r in Role.values if r not in NO_PERSON_ACCESS and r != Role.PARTNERSHIP_ADMIN]


@pytest.mark.parametrize("role", SEEING_ROLES)
def test_every_view_returning_another_agencys_data_records_its_disclosure(client, agency_b, role):  # noqa: F811
    alpha = AgencyFactory(code="ALPHA")
    agreement_create(actor=None, reference="ISA-AB", title="A and B", lawful_basis="public_task", purposes="Testing", purpose_codes=PURPOSES,
                     data_categories=["identity", "contacts", "needs"], starts_on=dt.date(2020, 1, 1),
                     parties={alpha: Tier.FULL, agency_b["agency"]: Tier.FULL})
    sign_in(client, UserFactory(agency=alpha, role=role))
    paths = {name: build(agency_b) for name, build in
             {**OBJECT_URLS, **TIERED_URLS, **PERSON_FORMS, **SUBJECT_FORMS, **CONTACT_FORMS}.items()}
    paths.update({**LIST_URLS, **AUDIT_URLS, **SEARCH_URLS})
    showed = []
    for name, path in paths.items():
        before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        body = client.get(path).content.decode(errors="replace")
        if not any(mark in body for mark in (B_SECRET_NAME, B_SECRET_NEED, B_ADDRESS)):
            continue
        showed.append(name)
        disclosed = AuditEvent.objects.filter(id__gt=before, action=AuditEvent.Action.DISCLOSE,
                                              detail__owner_agency_id=agency_b["agency"].pk)
        assert disclosed.exists(), f"{name} showed agency B's records without recording the disclosure"
        assert all(e.detail["agreement"] == "ISA-AB" for e in disclosed), name
    # The agreement lets A see B's people: the profiles and the demand ranking at least show them.
    assert {"web:person", "web:household", "web:demand", "web:demand_csv", "api:demand", "web:person_search",
            "api:person_search"} <= set(showed)


def test_no_page_or_api_view_writes_audit_rows_itself():
    root = Path(__file__).resolve().parents[1] / "onecase"
    found = [f"{path.relative_to(root)}:{n}" for layer in ("web", "api") for path in (root / layer).rglob("*.py")
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if re.search(r"audit_record|disclosure_record|audit_trail_read", line)]
    assert found == []
