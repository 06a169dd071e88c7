"""Pages and the API read through scoped selectors, never straight from ``Model.objects``."""

import re
from pathlib import Path

import onecase

ROOT = Path(onecase.__file__).parent
VIEW_MODULES = sorted([*ROOT.glob("web/*.py"), *ROOT.glob("api/*.py")])
# A model's manager, or a model class handed to a shortcut that reads through it.
MANAGER = re.compile(r"\.objects\b|get_object_or_404\(\s*[A-Z]\w*\s*[,)]")

# (module, line text) pairs allowed to use a model manager: reference data that is not personal.
# Keep it short; a selector is better.
ALLOWED: set[tuple[str, str]] = set()


def manager_uses(source: str) -> list[tuple[int, str]]:
    """(line number, line) of every read straight from a model in ``source``, comments left out."""
    found = []
    for number, line in enumerate(source.splitlines(), start=1):
        code = line.split("#", 1)[0]
        if MANAGER.search(code):
            found.append((number, line.strip()))
    return found


def test_the_check_finds_a_manager_in_code_and_not_in_comments():
    source = ("x = 1  # Person.objects is not used here\n"
              "holders = User.objects.filter(is_active=True)\n"
              "person = get_object_or_404(Person, pk=pk)\n"
              "case = get_object_or_404(cases_visible_to(user), pk=pk)\n")
    assert manager_uses(source) == [(2, "holders = User.objects.filter(is_active=True)"),
                                    (3, "person = get_object_or_404(Person, pk=pk)")]


def test_no_page_or_api_view_starts_from_model_objects():
    assert VIEW_MODULES, "no view modules found"
    found = []
    for path in VIEW_MODULES:
        module = str(path.relative_to(ROOT.parent))
        for number, line in manager_uses(path.read_text()):
            if (module, line) not in ALLOWED:
                found.append(f"{module}:{number}: {line}")
    assert not found, "Read through a scoped selector instead:\n" + "\n".join(found)
