"""The FEBRL test data sets as agency records, for measuring linkage (see fixtures/febrl/LICENCE.txt).

FEBRL records are Australian: postcodes are four digits and the social security id
stands in for an NHS number. Each record's truth is the number in its rec_id.
"""

from __future__ import annotations

import csv
import gzip
from datetime import date
from pathlib import Path

from onecase.linkage.synthetic import Record

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "febrl"


def _date(text: str) -> date | None:
    text = text.strip()
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def records(name: str, agency: str = "FEBRL") -> list[Record]:
    """The records of FEBRL data set ``name`` (dataset1, dataset3, dataset4a, dataset4b)."""
    out = []
    with gzip.open(FIXTURES / f"{name}.csv.gz", "rt", encoding="utf-8") as handle:
        reader = csv.reader(handle, skipinitialspace=True)
        header = [h.strip() for h in next(reader)]
        for row in reader:
            values = dict(zip(header, (v.strip() for v in row), strict=True))
            truth = int(values["rec_id"].split("-")[1])
            street = " ".join(p for p in (values["street_number"], values["address_1"]) if p)
            line = ", ".join(p for p in (street, values["address_2"], values["suburb"]) if p)
            out.append(
                Record(
                    agency=agency, person_ref=values["rec_id"], given_name=values["given_name"],
                    family_name=values["surname"], date_of_birth=_date(values["date_of_birth"]), sex="",
                    address_line=line[:300], postcode=values["postcode"], uprn="",
                    nhs_number=values["soc_sec_id"], true_person_id=truth, true_household_id=truth,
                    true_address_id=truth,
                )
            )
    return out
