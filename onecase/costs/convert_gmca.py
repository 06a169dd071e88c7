"""Convert the GMCA Unit Cost Database workbook into the CSV files shipped in ``costs/data``.

    python -m onecase.costs.convert_gmca unit-cost-database.xlsx onecase/costs/data

Writes ``gmca_unit_costs.csv`` (one row per cost code) and ``gdp_deflator.csv`` (the
workbook's own GDP deflator table). Values are the workbook's own figures at their own price
years; formulas are read as the workbook last calculated them. Transfer payments are marked
in the workbook only by a comment on the fiscal value cell, so the comment is read too.
As a check, every value is uprated to the workbook's current price year and compared with
the workbook's own uprated column. Runs without Django.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from onecase.costs.uprating import chain_index, normalise_financial_year, uprate

COST_COLUMNS = (
    "cost_code",
    "parent_code",
    "description",
    "unit",
    "agency_level1",
    "agency_level2",
    "fiscal_value_gbp",
    "fiscal_price_year",
    "economic_value_gbp",
    "economic_price_year",
    "social_value_gbp",
    "social_price_year",
    "is_transfer_payment",
    "quality_rag",
    "source",
    "comment",
    "outcome_category",
    "outcome_detail",
)
DEFLATOR_COLUMNS = ("financial_year", "pct_change_on_previous_year", "index", "status")

# Where each field sits on a thematic sheet (1-based columns), checked against the header.
COL = {
    "outcome_category": 1,
    "outcome_detail": 2,
    "cost_code": 3,
    "description": 4,
    "unit": 5,
    "agency_level1": 6,
    "agency_level2": 7,
    "source": 17,
    "quality_rag": 18,
    "comment": 19,
}
# (estimate, year, uprated) columns for each kind of value.
VALUES = {"fiscal": (8, 9, 10), "economic": (11, 12, 13), "social": (14, 15, 16)}
EXPECTED_HEADER = {
    (1, 3): "cost code",
    (1, 5): "unit",
    (1, 17): "original source",
    (1, 18): "rag assessment",
    (1, 19): "comment",
    (2, 6): "level 1",
    (2, 7): "level 2",
    (2, 8): "estimated cost/saving",
    (2, 9): "year",
    (2, 11): "estimated cost/saving",
    (2, 12): "year",
    (2, 14): "estimated cost/saving",
    (2, 15): "year",
}
END_MARKER = "do not delete rows"
CODE = re.compile(r"^(?P<prefix>[A-Z&]+)(?P<numbers>\d+(?:\.\d+)*)$")
VALUE_PLACES = Decimal("1E-10")
EMPTY_TEXT = {"", "none", "-"}
LOOKUPS = "Lookups"
LOOKUP_FIRST_ROW, LOOKUP_LAST_ROW = 10, 40
LOOKUP_YEAR, LOOKUP_PCT, LOOKUP_INDEX, LOOKUP_FORECAST = 13, 14, 16, 12
# The workbook's drop-down lists of agencies (level 1 and level 2); cells typed by hand are
# put back into the list's spelling ("Local authority" -> "Local Authority").
LOOKUP_AGENCY_COLUMNS = {"agency_level1": 6, "agency_level2": 7}
CURRENT_YEAR_CELL = "K11"


class ConversionError(Exception):
    pass


@dataclass
class Report:
    rows: int = 0
    skipped: list[str] = field(default_factory=list)
    checked: int = 0
    mismatches: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    current_year: str = ""


def _text(value) -> str:
    if value is None:
        return ""
    text = " ".join(str(value).split())
    return "" if text.lower() in EMPTY_TEXT else text


def _paragraphs(value) -> str:
    """Keep line breaks (comments are written in paragraphs) but tidy spaces."""
    if value is None:
        return ""
    lines = [" ".join(line.split()) for line in str(value).replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    text = "\n".join(lines).strip()
    return re.sub(r"\n{3,}", "\n\n", text)


def _number(value) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{str(value)[:30]!r} is not a number") from None
    if number.as_tuple().exponent < -10:
        number = number.quantize(VALUE_PLACES, rounding=ROUND_HALF_UP)
    return number


def _plain(number: Decimal | None) -> str:
    if number is None:
        return ""
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def parent_of(code: str, known: set[str]) -> str:
    """CR1.4.1 -> CR1.4; CR1.4 -> CR1.0; CR1.0 -> none (only if the parent exists)."""
    match = CODE.match(code)
    if not match:
        return ""
    prefix, numbers = match.group("prefix"), match.group("numbers").split(".")
    if len(numbers) >= 3:
        parent = prefix + ".".join(numbers[:-1])
    elif len(numbers) == 2 and numbers[1] != "0":
        parent = f"{prefix}{numbers[0]}.0"
    else:
        return ""
    return parent if parent in known else ""


def read_deflator(values_book, report: Report) -> list[dict]:
    sheet = values_book[LOOKUPS]
    if _text(sheet.cell(9, LOOKUP_YEAR).value).lower() != "year":
        raise ConversionError(f"{LOOKUPS}: the GDP lookup table is not where it was (M9 should read 'Year')")
    rows = []
    for number in range(LOOKUP_FIRST_ROW, LOOKUP_LAST_ROW + 1):
        year = sheet.cell(number, LOOKUP_YEAR).value
        if year is None:
            break
        pct = _number(sheet.cell(number, LOOKUP_PCT).value)
        if pct is None:
            raise ConversionError(f"{LOOKUPS} row {number}: no % change for {year}")
        forecast = _text(sheet.cell(number, LOOKUP_FORECAST).value).lower() == "f"
        rows.append(
            {
                "financial_year": normalise_financial_year(year),
                "pct": pct,
                "status": "forecast" if forecast else "outturn",
                "workbook_index": sheet.cell(number, LOOKUP_INDEX).value,
            }
        )
    index = chain_index((r["financial_year"], r["pct"]) for r in rows)
    for row in rows:
        row["index"] = index[row["financial_year"]]
        cached = row.pop("workbook_index")
        if isinstance(cached, int | float) and abs(Decimal(repr(float(cached))) - row["index"]) > Decimal("1E-8"):
            report.mismatches.append(f"deflator {row['financial_year']}: index {row['index']} but workbook {cached}")
    report.current_year = normalise_financial_year(sheet[CURRENT_YEAR_CELL].value)
    return rows


def _thematic_sheets(book) -> list[str]:
    return [s.title for s in book.worksheets if _text(s.cell(1, COL["cost_code"]).value).lower() == "cost code"]


def _check_header(sheet) -> None:
    for (row, column), expected in EXPECTED_HEADER.items():
        found = " ".join(str(sheet.cell(row, column).value or "").lower().split())
        if found.replace("cost/ saving", "cost/saving") != expected:
            raise ConversionError(f"{sheet.title}: row {row}, column {column} should read '{expected}', not {found!r}")


def agency_spellings(values_book) -> dict[str, dict[str, str]]:
    sheet = values_book[LOOKUPS]
    spellings: dict[str, dict[str, str]] = {}
    for name, column in LOOKUP_AGENCY_COLUMNS.items():
        found = {}
        for number in range(LOOKUP_FIRST_ROW + 1, sheet.max_row + 1):
            text = _text(sheet.cell(number, column).value)
            if text:
                found.setdefault(text.lower(), text)
        spellings[name] = found
    return spellings


def read_costs(formula_book, values_book, indices: dict[str, Decimal], report: Report) -> list[dict]:
    spellings = agency_spellings(values_book)
    costs: list[dict] = []
    seen: dict[str, str] = {}
    for title in _thematic_sheets(formula_book):
        sheet, values = formula_book[title], values_book[title]
        _check_header(sheet)
        for number in range(3, sheet.max_row + 1):
            if _text(sheet.cell(number, 1).value).lower() == END_MARKER:
                break
            cells = {name: values.cell(number, column).value for name, column in COL.items()}
            code = _text(cells["cost_code"])
            if not code:
                description = _text(cells["description"])
                if description:
                    report.skipped.append(f"{title} row {number}: no cost code, left out ({description})")
                continue
            where = f"{title} row {number} ({code})"
            if code in seen:
                report.problems.append(f"{where}: cost code also on {seen[code]}")
                continue
            seen[code] = f"{title} row {number}"
            row = {
                "cost_code": code,
                "description": _text(cells["description"]),
                "unit": _text(cells["unit"]),
                "agency_level1": _agency(cells["agency_level1"], spellings["agency_level1"]),
                "agency_level2": _agency(cells["agency_level2"], spellings["agency_level2"]),
                "source": _text(cells["source"]),
                "comment": _paragraphs(cells["comment"]),
                "outcome_category": _text(cells["outcome_category"]),
                "outcome_detail": _text(cells["outcome_detail"]),
                "is_transfer_payment": False,
            }
            rag = _text(cells["quality_rag"]).upper()
            if rag not in ("", "R", "A", "G"):
                report.problems.append(f"{where}: RAG rating {rag!r} is not R, A or G")
            row["quality_rag"] = rag
            notes = []
            for kind, (estimate, year_column, uprated_column) in VALUES.items():
                try:
                    value = _number(values.cell(number, estimate).value)
                except ValueError as exc:
                    report.problems.append(f"{where}: {kind} value: {exc}")
                    value = None
                if value is None and str(sheet.cell(number, estimate).value or "").startswith("="):
                    report.problems.append(f"{where}: {kind} value is a formula the workbook has not calculated")
                year = ""
                if value is not None:
                    try:
                        year = normalise_financial_year(values.cell(number, year_column).value or "")
                    except ValueError as exc:
                        report.problems.append(f"{where}: {kind} price year: {exc}")
                    else:
                        if year not in indices:
                            report.problems.append(f"{where}: {kind} price year {year} is not in the deflator")
                        else:
                            _compare(values.cell(number, uprated_column).value, value, year, indices, report, where)
                row[f"{kind}_value_gbp"] = _plain(value)
                row[f"{kind}_price_year"] = year
                comment = sheet.cell(number, estimate).comment
                if comment is not None and comment.text.strip():
                    notes.append(f"Note on the {kind} value: {_paragraphs(comment.text)}")
                    if kind == "fiscal" and "transfer payment" in comment.text.lower():
                        row["is_transfer_payment"] = True
            if notes:
                row["comment"] = "\n\n".join(filter(None, [row["comment"], *notes]))
            costs.append(row)
    known = {row["cost_code"] for row in costs}
    for row in costs:
        row["parent_code"] = parent_of(row["cost_code"], known)
    report.rows = len(costs)
    return costs


def _agency(value, spellings: dict[str, str]) -> str:
    text = _text(value)
    return spellings.get(text.lower(), text)


def _compare(cached, value: Decimal, year: str, indices, report: Report, where: str) -> None:
    """The workbook's own uprated figure (to its current year) must agree to the penny."""
    if not isinstance(cached, int | float) or not report.current_year:
        return
    ours = uprate(value, year, report.current_year, indices=indices)
    theirs = Decimal(repr(float(cached)))
    report.checked += 1
    if abs(ours - theirs) > Decimal("0.005000001"):
        report.mismatches.append(f"{where}: uprated {ours} but the workbook shows {theirs}")


def convert(source: Path, out_dir: Path) -> Report:
    from openpyxl import load_workbook

    formula_book = load_workbook(source)  # comments and formulas
    values_book = load_workbook(source, data_only=True)  # the workbook's calculated values
    report = Report()
    deflator = read_deflator(values_book, report)
    indices = {row["financial_year"]: row["index"] for row in deflator}
    costs = read_costs(formula_book, values_book, indices, report)
    if report.problems:
        return report
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "gmca_unit_costs.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in costs:
            writer.writerow({**row, "is_transfer_payment": "true" if row["is_transfer_payment"] else "false"})
    with (out_dir / "gdp_deflator.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(DEFLATOR_COLUMNS)
        for row in deflator:
            writer.writerow([row["financial_year"], _plain(row["pct"]), format(row["index"], "f"), row["status"]])
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="unit-cost-database.xlsx")
    parser.add_argument("out_dir", type=Path, help="folder for gmca_unit_costs.csv and gdp_deflator.csv")
    args = parser.parse_args(argv)
    try:
        report = convert(args.source, args.out_dir)
    except (ConversionError, OSError, KeyError) as exc:
        print(f"cannot convert {args.source}: {exc}", file=sys.stderr)
        return 1
    for line in report.skipped:
        print(f"note: {line}", file=sys.stderr)
    for line in report.mismatches:
        print(f"warning: {line}", file=sys.stderr)
    for line in report.problems:
        print(f"error: {line}", file=sys.stderr)
    if report.problems:
        print("nothing written", file=sys.stderr)
        return 1
    print(
        f"{report.rows} unit costs written to {args.out_dir}; {report.checked} uprated values agree with the "
        f"workbook's {report.current_year} column ({len(report.mismatches)} differ)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
