"""Reads for unit costs, and the cost of contacts.

The cost of a contact is the unit cost of its (agency, contact_type); a contact type with no
unit cost costs nothing and is listed by ``unmapped_contact_types``. The functions taking a
Contact queryset work on whatever the caller passes (already scoped to the user), in SQL.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from decimal import Decimal

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Count, DecimalField, Exists, F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from onecase.accounts.rules import is_staff_member
from onecase.contacts.models import Contact
from onecase.costs.models import UnitCost
from onecase.costs.uprating import PENNY

MONEY = DecimalField(max_digits=12, decimal_places=2)


def unit_costs_visible_to(user) -> QuerySet[UnitCost]:
    """The cost map. It holds no personal data, so every member of staff may read it."""
    if not is_staff_member(user):
        return UnitCost.objects.none()
    return UnitCost.objects.select_related("agency", "cost_item").order_by("agency__code", "contact_type")


def _unit_cost_of_row():
    return UnitCost.objects.filter(agency_id=OuterRef("agency_id"), contact_type=OuterRef("contact_type"))


def unmapped_contact_types(contacts: QuerySet[Contact] | None = None) -> list[tuple[str, str, int]]:
    """(agency code, contact_type, contact count) for contacts whose type has no unit cost.

    ``contacts`` defaults to the whole ledger. Most contacts first.
    """
    contacts = Contact.objects.all() if contacts is None else contacts
    rows = (
        contacts.order_by()
        .filter(~Exists(_unit_cost_of_row()))
        .values("agency__code", "contact_type")
        .annotate(n=Count("pk"))
        .order_by("-n", "agency__code", "contact_type")
    )
    return [(row["agency__code"], row["contact_type"], row["n"]) for row in rows]


def with_unit_cost(contacts: QuerySet[Contact]) -> QuerySet[Contact]:
    """Annotate each contact with ``unit_cost_gbp`` (0.00 when its type has no unit cost).

    An index lookup per contact on (agency, contact_type); for totals use ``cost_for_contacts``
    or ``cost_by``, which join once.
    """
    unit = Subquery(_unit_cost_of_row().values("unit_cost_gbp")[:1], output_field=MONEY)
    return contacts.annotate(unit_cost_gbp=Coalesce(unit, Value(Decimal("0.00")), output_field=MONEY))


def cost_by(contacts: QuerySet[Contact], key: str) -> dict:
    """Σ unit cost of ``contacts`` grouped by ``key`` (a field or lookup, e.g. ``agency_person_id``),
    as Decimal to the penny. Groups whose contacts all have no unit cost are left out.
    """
    return dict(_sum_costs(contacts, key))


def cost_for_contacts(contacts: QuerySet[Contact]) -> Decimal:
    """Σ unit cost of ``contacts``, as Decimal to the penny (0.00 for none)."""
    rows = _sum_costs(contacts, None)
    return rows[0][1] if rows else Decimal("0.00")


def _sum_costs(contacts: QuerySet[Contact], key: str | None) -> list[tuple[object, Decimal]]:
    # One join of the caller's contacts with the cost map, summed in whole pence so that
    # SQLite (which keeps decimals as floating point) is exact too.
    inner = contacts.order_by()
    columns = ["pk", "agency_id", "contact_type"]
    if key is not None:
        inner = inner.annotate(cost_key=F(key))
        columns.append("cost_key")
    try:
        sql, params = inner.values(*columns).query.sql_with_params()
    except EmptyResultSet:
        return []
    group, group_by = ("c.cost_key", " GROUP BY c.cost_key") if key is not None else ("NULL", "")
    with connections[contacts.db].cursor() as cursor:
        cursor.execute(
            f"SELECT {group}, SUM(CAST(ROUND(u.unit_cost_gbp * 100) AS BIGINT)) "  # noqa: S608
            f"FROM ({sql}) c JOIN {UnitCost._meta.db_table} u "
            f"ON u.agency_id = c.agency_id AND u.contact_type = c.contact_type{group_by}",
            params,
        )
        found = cursor.fetchall()
    return [(group_key, (Decimal(int(pence)) / 100).quantize(PENNY)) for group_key, pence in found if pence is not None]


def unit_cost_map() -> dict[tuple[int, str], Decimal]:
    """{(agency id, contact_type): unit cost}: the whole cost map (no personal data)."""
    return {(agency_id, contact_type): value for agency_id, contact_type, value
            in UnitCost.objects.values_list("agency_id", "contact_type", "unit_cost_gbp")}


def cost_of_counts(counts: Iterable[tuple[Hashable, int, str, int]],
                   prices: dict[tuple[int, str], Decimal] | None = None) -> dict[Hashable, Decimal]:
    """Σ contacts × unit cost per group, from (group, agency id, contact_type, contacts) rows that the
    caller counted (e.g. per month). A type with no unit cost adds nothing; every group counted is kept."""
    prices = unit_cost_map() if prices is None else prices
    totals: dict[Hashable, Decimal] = {}
    for group, agency_id, contact_type, n in counts:
        unit = prices.get((agency_id, contact_type), Decimal("0.00"))
        totals[group] = (totals.get(group, Decimal("0.00")) + n * unit).quantize(PENNY)
    return totals
