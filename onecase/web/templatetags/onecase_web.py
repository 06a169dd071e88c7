from decimal import Decimal

from django import template
from django.urls import reverse
from django.utils.html import format_html

from onecase.accounts.models import Role
from onecase.accounts.rules import sees_people
from onecase.accounts.selectors import import_agencies_for
from onecase.cases.rules import CASE_WORKING_ROLES
from onecase.contacts.labels import agency_names, contact_type_label
from onecase.imports.models import ImportJob
from onecase.linkage.rules import may_review_linkage, may_search_people
from onecase.measures.rules import may_see_measures
from onecase.reports.rules import may_see_cohort_impact

register = template.Library()

STATUS_TAG = {
    ImportJob.Status.CHECKING: "govuk-tag--blue",
    ImportJob.Status.PREVIEWED: "govuk-tag--turquoise",
    ImportJob.Status.REJECTED: "govuk-tag--red",
    ImportJob.Status.QUEUED: "govuk-tag--grey",
    ImportJob.Status.RUNNING: "govuk-tag--yellow",
    ImportJob.Status.SUCCEEDED: "govuk-tag--green",
    ImportJob.Status.FAILED: "govuk-tag--red",
    ImportJob.Status.CANCELLED: "govuk-tag--grey",
}


@register.simple_tag(takes_context=True)
def service_navigation(context) -> list[dict]:
    """Navigation items for the signed-in user; ``current`` is "page" or "true" (a section)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    match = getattr(request, "resolver_match", None)
    name = match.url_name if match and match.namespace == "web" else ""
    items = [{"text": "Home", "href": reverse("web:home"), "current": "page" if name == "home" else ""}]
    if user.role != Role.AUDITOR:
        current = "true" if name.startswith("demand") else ""
        items.append({"text": "Demand", "href": reverse("web:demand"), "current": current})
    if user.role in CASE_WORKING_ROLES or user.role == Role.PARTNERSHIP_ADMIN:
        current = "page" if name == "my_cases" else ("true" if name.startswith("case") else "")
        items.append({"text": "Cases", "href": reverse("web:my_cases"), "current": current})
    if may_see_cohort_impact(user):
        items.append({"text": "Impact", "href": reverse("web:impact"), "current": "page" if name == "impact" else ""})
    if may_see_measures(user):
        current = "page" if name == "measures" else ("true" if name.startswith("measure") else "")
        items.append({"text": "Measures", "href": reverse("web:measures"), "current": current})
    current = "page" if name == "meetings" else ("true" if name.startswith("meeting") else "")
    items.append({"text": "Meetings", "href": reverse("web:meetings"), "current": current})
    if import_agencies_for(user).exists():
        current = "page" if name == "import_new" else ("true" if name.startswith("import") else "")
        items.append({"text": "Upload contacts", "href": reverse("web:import_new"), "current": current})
    if sees_people(user):
        items.append({"text": "Access requests", "href": reverse("web:requests"),
                      "current": "page" if name == "requests" else ""})
    if user.role in (Role.DPO, Role.AUDITOR, Role.PARTNERSHIP_ADMIN):
        current = "page" if name == "dpo" else ""
        items.append({"text": "Data protection", "href": reverse("web:dpo"), "current": current})
    if may_review_linkage(user):
        current = "page" if name == "review_queue" else ("true" if name.startswith("review_") else "")
        items.append({"text": "Linkage review", "href": reverse("web:review_queue"), "current": current})
    current = "page" if name == "api_tokens" else ("true" if name.startswith("api_token") else "")
    items.append({"text": "API tokens", "href": reverse("web:api_tokens"), "current": current})
    if user.is_staff:
        items.append({"text": "Admin", "href": reverse("admin:index"), "current": ""})
    return items


@register.filter
def status_tag(status: str) -> str:
    """The GOV.UK tag colour class for an import job status."""
    return STATUS_TAG.get(status, "govuk-tag--grey")


@register.filter
def problem(item: dict) -> str:
    """A stored problem as "line N, column C: reason"."""
    where = []
    if item.get("line") is not None:
        where.append(f"line {item['line']}")
    if item.get("column"):
        where.append(f"column {item['column']}")
    reason = item.get("reason", "")
    return f"{', '.join(where)}: {reason}" if where else reason[:1].upper() + reason[1:]


@register.filter
def has_chosen(field, value) -> bool:
    """Whether choice ``value`` is the bound field's value, or one of its values (model choices by pk)."""
    current = field.value()
    if current is None:
        return False
    values = current if isinstance(current, list | tuple | set) else [current]
    return str(value) in {str(getattr(v, "pk", v)) for v in values}


@register.filter
def contact_type(code: str) -> str:
    """A contact type in words (``contacts.labels.contact_type_label``)."""
    return contact_type_label(code)


def _agency_names(context) -> dict[str, str]:
    """The partnership's agency names by code, read once a request."""
    request = context.get("request")
    names = getattr(request, "_onecase_agency_names", None)
    if names is None:
        names = agency_names()
        if request is not None:
            request._onecase_agency_names = names
    return names


@register.simple_tag(takes_context=True)
def agency_name(context, code: str) -> str:
    """An agency's name from its code (the code itself if no agency has it)."""
    return _agency_names(context).get(code, code)


@register.simple_tag(takes_context=True)
def agency_abbr(context, code: str) -> str:
    """An agency's code where space is short: its name shows on hover and is read out instead."""
    name = _agency_names(context).get(code)
    if not name or name == code:
        return code
    return format_html('<abbr title="{0}"><span aria-hidden="true">{1}</span>'
                       '<span class="govuk-visually-hidden">{0}</span></abbr>', name, code)


@register.filter
def searches_people(user) -> bool:
    """Whether ``user`` may search for people (``linkage.rules.may_search_people``): the header's search box."""
    return may_search_people(user)


@register.filter
def gbp(value) -> str:
    """Money as printed: "£1,234.56", "−£1,234.56"; nothing to print when there is no figure."""
    if value is None or value == "":
        return ""
    amount = Decimal(value)
    return f"{'−' if amount < 0 else ''}£{abs(amount):,.2f}"
