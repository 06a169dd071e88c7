"""The ``onecase`` console script: Django's management commands."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onecase.config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["onecase", *sys.argv[1:]])


if __name__ == "__main__":
    main()
