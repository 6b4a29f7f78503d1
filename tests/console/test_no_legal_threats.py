"""Nothing Parley sends mentions or threatens legal action (SPEC §15; FDCPA §807(4)-(5) and
Reg F 1006.18 forbid threatening action that is not intended or cannot legally be taken, and
Parley never intends any). Legal review is an internal outcome for the creditor's staff: its
words live in the console, never in a debtor's message.

Scanned: every string the bot's texts module holds (parley/dialogue/texts.py, walked through
its dicts and tuples), every string literal in the code that composes debtor messages
(parley/ outside the staff-only console, and actions/; docstrings and the regular expressions
that *read* the debtor's words are not messages), every string in config/*.yml (policies, and
the cadence templates where outreach wording lives) and the bot's domain, and the debtor-facing
pages and scripts (checkout pages, widget, demo). The scan is checked to find what it looks for.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from parley.dialogue import texts

ROOT = Path(__file__).resolve().parents[2]
# Words of legal action and its consequences. "attorney" is not here: Parley acknowledges a
# debtor's own attorney (SPEC §10), which threatens nothing.
LEGAL = re.compile(
    r"\b(?:legal|lawsuits?|law ?suits?|sue[sd]?|suing|courts?|judg(?:e)?ments?|garnish\w*|"
    r"arrest\w*|jail|prison|prosecut\w*|litigat\w*|liens?|levy|levies|law firm|criminal|"
    r"warrants?|seiz\w*|repossess\w*|credit bureaus?|credit report\w*)\b",
    re.I,
)
CODE_DIRS = ("parley", "actions")
STAFF_ONLY = (ROOT / "parley" / "console",)
DEBTOR_PAGES = (
    "api/templates/checkout.html",
    "api/templates/checkout_done.html",
    "api/templates/demo.html",
    "api/templates/portal-demo.html",
    "api/static/widget.js",
    "api/static/demo.js",
)


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from strings_in(item)


def text_module_strings() -> Iterator[tuple[str, str]]:
    for name in dir(texts):
        if not name.startswith("_"):
            for text in strings_in(getattr(texts, name)):
                yield f"texts.{name}", text


def _is_regex_call(node: ast.Call) -> bool:
    func = node.func
    return isinstance(func, ast.Attribute) and func.attr in {"compile", "search", "match", "sub"}


def code_strings() -> Iterator[tuple[str, str]]:
    for folder in CODE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if any(path.is_relative_to(staff) for staff in STAFF_ONLY):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            skip: set[int] = set()
            for node in ast.walk(tree):
                body = getattr(node, "body", None)
                if (
                    isinstance(
                        node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
                    )
                    and body
                    and isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant)
                ):
                    skip.add(id(body[0].value))
                if isinstance(node, ast.Call) and _is_regex_call(node):
                    skip.update(id(sub) for arg in node.args for sub in ast.walk(arg))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and id(node) not in skip
                ):
                    yield f"{path.relative_to(ROOT)}:{node.lineno}", node.value


def config_strings() -> Iterator[tuple[str, str]]:
    paths = [*sorted((ROOT / "config").glob("*.yml")), ROOT / "bot" / "domain" / "domain.yml"]
    for path in paths:
        for text in strings_in(yaml.safe_load(path.read_text(encoding="utf-8"))):
            yield str(path.relative_to(ROOT)), text


def page_strings() -> Iterator[tuple[str, str]]:
    for relative in DEBTOR_PAGES:
        path = ROOT / relative
        if path.exists():
            yield relative, path.read_text(encoding="utf-8")


SOURCES = {
    "texts": text_module_strings,
    "code": code_strings,
    "config": config_strings,
    "pages": page_strings,
}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_nothing_parley_sends_mentions_legal_action(source: str) -> None:
    found = list(SOURCES[source]())
    assert len(found) > 3, f"the {source} scan found almost nothing to check"
    offending = [(where, LEGAL.search(text)) for where, text in found if LEGAL.search(text)]
    assert not offending, "\n".join(f"{where}: {m.group(0)!r}" for where, m in offending if m)


@pytest.mark.parametrize(
    "threat",
    [
        "We may take legal action.",
        "You could be sued for the balance.",
        "This may be referred to our law firm.",
        "Wage garnishment may follow.",
        "A judgment could be entered in court.",
        "We will report this to the credit bureaus.",
    ],
)
def test_the_scan_finds_threats(threat: str) -> None:
    assert LEGAL.search(threat)


def test_the_scan_leaves_ordinary_words_alone() -> None:
    for fine in ("I'll get your attorney's contact details.", "Your payment is due.", "pursue"):
        assert not LEGAL.search(fine)
