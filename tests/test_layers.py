"""Layers that only look down: a domain app imports only the apps beneath it (and its own layer).

Every module under onecase/ (migrations aside) is read as source, function-level imports
included, and each import of ``onecase.<app>`` is checked against ``MAY_IMPORT``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "onecase"

# The bottom: who works here and who they are about, and the audit trail.
BOTTOM = frozenset({"accounts", "people", "audit"})
# Above it: the demand ledger and what feeds, costs, links and shares it.
MIDDLE = BOTTOM | {"sharing", "contacts", "costs", "imports", "linkage", "places"}

# Domain app -> the other apps it may import. An app always may import itself and SHARED.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "audit": frozenset(),
    "accounts": BOTTOM,
    "people": BOTTOM,
    "sharing": MIDDLE,
    "contacts": MIDDLE,
    "costs": MIDDLE,
    "imports": MIDDLE,
    "linkage": MIDDLE,
    "places": MIDDLE,
    "cases": MIDDLE,
    "meetings": MIDDLE | {"cases"},
    "reports": MIDDLE | {"cases", "meetings"},
    "measures": MIDDLE | {"cases", "meetings", "reports"},
}
# Plain helpers every layer may use; they import no app themselves.
SHARED = frozenset({"arguments", "concurrency", "exports"})
# Thin layers on top: pages, the API, the demo, the console script and settings may import anything.
THIN = frozenset({"web", "api", "demo", "cli", "config"})


def layer_of(path: Path) -> str:
    """The app or top-level module a file belongs to: onecase/<app>/... or onecase/<module>.py."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else Path(parts[0]).stem


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports_in(source: str, module: str, *, is_package: bool = False) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, imported module, names taken) for every import in ``source``, relative ones resolved."""
    found = []
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = tuple(alias.name for alias in node.names)
            if base == "onecase":  # from onecase import cases
                found += [(node.lineno, f"onecase.{name}", ()) for name in names]
            else:
                found.append((node.lineno, base, names))
    return found


def climbing(layer: str, imported: str) -> bool:
    """Does ``layer`` importing ``imported`` climb out of its layer?"""
    parts = imported.split(".")
    if parts[0] != "onecase" or len(parts) < 2:
        return False
    target = parts[1]
    if layer in THIN or target == layer:
        return False
    if layer in SHARED:
        return target not in SHARED
    if target in SHARED:
        return False
    if target not in MAY_IMPORT and target not in THIN:
        return True  # an app no layer knows: place it in MAY_IMPORT first
    return target not in MAY_IMPORT.get(layer, frozenset())


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.relative_to(PACKAGE).parts)


# The check's own sanity: (layer, source, climbs?) it must judge right, relative and nested imports included.
CHECK_CASES = [
    ("contacts", "def f():\n    from onecase.cases.selectors import key_workers_for\n", True),
    ("contacts", "from onecase import cases\n", True),
    ("contacts", "import onecase.meetings.models\n", True),
    ("contacts", "from ..reports import selectors\n", True),
    ("contacts", "from .models import Contact\n", False),
    ("contacts", "from onecase.sharing.rules import disclosure_for\n", False),
    ("contacts", "from onecase.cli import main\n", True),
    ("contacts", "from onecase.arguments import iso_date\n", False),
    ("contacts", "from onecase.newapp.models import Thing\n", True),
    ("accounts", "from onecase.imports.contact_format import normalise_agency_code\n", True),
    ("accounts", "from onecase.demo.credentials import is_demo_password\n", True),
    ("accounts", "from onecase.sharing.services import audit_record\n", True),
    ("accounts", "from onecase.audit.services import audit_record\n", False),
    ("people", "from onecase.linkage.models import LinkDecision\n", True),
    ("audit", "from onecase.accounts.models import User\n", True),
    ("linkage", "from onecase.people.models import Person\n", False),
    ("cases", "from onecase.meetings.models import Meeting\n", True),
    ("meetings", "from onecase.cases.models import Case\n", False),
    ("reports", "from onecase.web.views import home\n", True),
    ("exports", "from onecase.accounts.models import User\n", True),
    ("web", "from onecase.cases.selectors import key_workers_for\n", False),
]


def test_no_module_imports_a_layer_above_its_own():
    for layer, source, climbs in CHECK_CASES:
        judged = [climbing(layer, imported) for _, imported, _ in imports_in(source, f"onecase.{layer}.module")]
        assert judged and any(judged) is climbs, (layer, source)
    unplaced = {layer_of(path) for path in modules()} - set(MAY_IMPORT) - SHARED - THIN - {"__init__"}
    assert not unplaced, f"place these in a layer in tests/test_layers.py: {sorted(unplaced)}"

    problems = []
    for path in modules():
        layer = layer_of(path)
        source = path.read_text(encoding="utf-8")
        for line, imported, names in imports_in(source, _module_name(path), is_package=path.name == "__init__.py"):
            if climbing(layer, imported):
                taken = f" ({', '.join(names)})" if names else ""
                problems.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {layer} imports {imported}{taken}")
    assert not problems, "imports that climb a layer:\n" + "\n".join(problems)
