"""The layout's rules (docs/architecture.md), checked on the source itself.

- Nothing in `parley/` imports a web framework or Rasa: the domain runs without them.
- Nothing in `parley/` imports the adapters (`api/`, `actions/`) or the dev stack.
- `get_settings()` (which reads the environment) is called only at the edges.
- Every SPEC section the layout promises has its package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PARLEY = ROOT / "parley"
FORBIDDEN = ("fastapi", "starlette", "rasa", "rasa_sdk", "api", "actions", "devstack", "uvicorn")
# The edges that may read settings from the environment.
SETTINGS_EDGES = {"parley/cli.py", "parley/core/settings.py"}
SECTIONS = (
    "core",
    "tables",
    "accounts",
    "verification",
    "balance",
    "dialogue",
    "negotiation",
    "conversations",
    "sms",
    "outreach",
    "payments",
    "records",
    "escalations",
    "console",
    "jobs",
)


def modules() -> list[Path]:
    return sorted(PARLEY.rglob("*.py"))


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def offending(names: set[str]) -> list[str]:
    return sorted(n for n in names if n.split(".")[0] in FORBIDDEN)


def test_the_domain_imports_no_web_framework_no_rasa_and_no_adapter() -> None:
    found = {
        str(path.relative_to(ROOT)): bad for path in modules() if (bad := offending(imported(path)))
    }
    assert found == {}


def test_the_check_would_catch_a_framework_import(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text(
        "import os\nfrom fastapi import Request\nfrom rasa_sdk.events import SlotSet\n"
    )
    assert offending(imported(sneaky)) == ["fastapi", "rasa_sdk.events"]


def test_settings_are_read_from_the_environment_only_at_the_edges() -> None:
    callers = {
        str(path.relative_to(ROOT)) for path in modules() if "get_settings(" in path.read_text()
    }
    assert callers <= SETTINGS_EDGES


@pytest.mark.parametrize("section", SECTIONS)
def test_each_section_has_its_package(section: str) -> None:
    package = PARLEY / section
    assert (package / "__init__.py").is_file()
    assert [p for p in package.glob("*.py") if p.name != "__init__.py"]
