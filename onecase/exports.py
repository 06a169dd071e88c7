"""Spreadsheet-safe downloads: every CSV the product writes for people to open goes through here.

Imported data can hold text such as ``=HYPERLINK(...)`` that a spreadsheet would run as a formula
when the download is opened. Following the OWASP guidance on CSV injection, a text cell that starts
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with a leading single quote,
so spreadsheets show it as text. Numbers (int, float, Decimal) are left as numbers.
"""

import csv
import io
from collections.abc import Iterable, Sequence

from django.http import HttpResponse
from django.utils.http import content_disposition_header

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """``value`` as a spreadsheet will read it as written: text that could start a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """A ``csv.writer`` that neutralises every cell it writes."""

    def __init__(self, handle, **options):
        self._writer = csv.writer(handle, **options)

    def writerow(self, row: Iterable):
        return self._writer.writerow([neutralise(value) for value in row])

    def writerows(self, rows: Iterable[Iterable]):
        for row in rows:
            self.writerow(row)


def csv_writer(handle, **options) -> SafeWriter:
    """A CSV writer over ``handle`` (takes ``csv.writer`` options) whose cells are neutralised."""
    return SafeWriter(handle, **options)


def csv_text(header: Sequence, rows: Iterable[Iterable]) -> str:
    """A whole CSV file as text, neutralised: for files put inside a ZIP."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def csv_response(filename: str) -> tuple[HttpResponse, SafeWriter]:
    """An attachment response named ``filename`` and a neutralising CSV writer into it."""
    response = HttpResponse(
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition_header(True, filename)},
    )
    return response, csv_writer(response)
