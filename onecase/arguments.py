"""Argument types the management commands share. Imports no app, so every layer may use it."""

import argparse
import datetime as dt


def iso_date(value: str) -> dt.date:
    """An argparse type for the commands' date options, written YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date written YYYY-MM-DD") from None
