"""The ``onecase`` console script: Django's management commands."""

import argparse
import datetime as dt
import os
import sys


def iso_date(value: str) -> dt.date:
    """An argparse type for the commands' date options, written YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date written YYYY-MM-DD") from None


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onecase.config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["onecase", *sys.argv[1:]])


if __name__ == "__main__":
    main()
