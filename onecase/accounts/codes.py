"""Agency codes: how one is written, and the form it is stored and compared in."""

import re

AGENCY_CODE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def normalise_agency_code(code: str) -> str:
    """``code`` as agencies are stored: no surrounding space, upper case."""
    return code.strip().upper()
