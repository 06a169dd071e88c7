"""No template syntax reaches a page: every page of the permission matrix, as every role.

Django's ``{# … #}`` comments end at the line's end, so a comment over two lines is printed as
text. Each page is opened by the agency that owns the objects (where they show in full) and by
a partner agency under an agreement (where they show tier by tier, or are refused).
"""

import datetime as dt
import re

import pytest
from django.http import HttpResponse
from django.template import engines

from onecase.accounts.models import Role
from onecase.sharing.models import Tier
from onecase.sharing.services import agreement_create
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory
from tests.test_permission_matrix import (  # noqa: F401  (agency_b is a fixture)
    ALLOWLIST,
    AUDIT_URLS,
    LIST_URLS,
    OBJECT_URLS,
    PERSON_FORMS,
    POST_OBJECT_URLS,
    SUBJECT_FORMS,
    TIERED_URLS,
    agency_b,
)

pytestmark = pytest.mark.django_db

SYNTAX = re.compile(r"\{[#%{]")  # the opening of a comment, a tag or a variable


def leftovers(response) -> list[str]:
    """Template syntax left in an HTML response, each with a little of the text around it."""
    if "text/html" not in response.get("Content-Type", ""):
        return []
    body = response.content.decode(errors="replace")
    return [body[max(m.start() - 40, 0):m.end() + 40] for m in SYNTAX.finditer(body)]


def test_leftovers_finds_a_comment_printed_over_two_lines():
    page = engines["django"].from_string("{# one line #}<p>ok</p>\n{# two\nlines #}").render({})
    assert leftovers(HttpResponse(page)) != []
    assert leftovers(HttpResponse("<p>{{ plain }}</p>", content_type="text/csv")) == []


def pages(b) -> list[tuple[str, str, str]]:
    """(name, method, path) of every page in the matrix, reads first, then the buttons (POSTed empty)."""
    gets = {**OBJECT_URLS, **TIERED_URLS, **PERSON_FORMS, **SUBJECT_FORMS}
    found = [(name, "get", build(b)) for name, build in gets.items()]
    found += [(name, "get", path) for name, path in {**LIST_URLS, **AUDIT_URLS, **ALLOWLIST}.items()
              if name != "web:logout"]
    found += [(name, "post", build(b)) for name, build in POST_OBJECT_URLS.items()]
    return found


@pytest.mark.parametrize("viewer", ["owner", "partner"])
@pytest.mark.parametrize("role", Role.values)
def test_no_page_prints_template_syntax(client, agency_b, role, viewer):  # noqa: F811
    if viewer == "owner":
        case = agency_b["case"]
        # The case's own key worker, so the case pages and their forms render in full.
        user = case.key_worker if role == Role.KEY_WORKER else UserFactory(agency=agency_b["agency"], role=role)
    else:
        alpha = AgencyFactory(code="ALPHA")
        agreement_create(actor=None, reference="ISA-AB", title="A and B", lawful_basis="public_task",
                         purposes="Testing", purpose_codes=["finding_families", "key_work"],
                         data_categories=["identity", "contacts", "needs"], starts_on=dt.date(2020, 1, 1),
                         parties={alpha: Tier.FULL, agency_b["agency"]: Tier.FULL})
        user = UserFactory(agency=alpha, role=role)
    sign_in(client, user)
    found = {}
    for name, method, path in pages(agency_b):
        response = getattr(client, method)(path)
        if left := leftovers(response):
            found[f"{method.upper()} {path} ({name}, {response.status_code})"] = left
    assert not found, "\n".join(f"{page}: {left!r}" for page, left in found.items())
