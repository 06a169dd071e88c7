"""Place-based data: published street-level crime and the English Indices of Deprivation 2019, by LSOA.

The files the product ships live in ``data/`` (see its README for the licence and attribution).
"""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"


def police_street_files() -> list[Path]:
    """The bundled monthly street-crime files (data.police.uk), oldest month first."""
    return sorted((DATA_DIR / "police-street-crime").glob("*-street.csv.gz"))


def deprivation_file() -> Path:
    """The bundled English Indices of Deprivation 2019 file (IMD rank and decile per LSOA)."""
    return DATA_DIR / "File_1_-_IMD2019_Index_of_Multiple_Deprivation.csv.gz"


def data_files() -> dict[str, list[Path]]:
    """Every bundled file, by what it holds: ``{"police_street": [...], "deprivation": [...]}``."""
    return {"police_street": police_street_files(), "deprivation": [deprivation_file()]}
