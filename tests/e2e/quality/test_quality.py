"""The conversation-quality suite: every scenario played against the running stack (driver.py),
held to the thresholds; and the scenario files themselves checked without a stack."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from devstack.stack import Stack
from parley.core.settings import Settings
from tests.e2e.quality import driver

NLU_DIR = driver.ROOT / "data" / "nlu"
# Lines shorter than this are stock phrases ("no thanks", "whats my balance") that anyone
# writes; a copied sentence is longer.
MIN_WORDS_COPIED = 6
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def test_scenario_files_are_valid() -> None:
    raw = driver.load_raw_scenarios()
    accounts = driver.load_accounts()
    problems: list[str] = []
    ids = Counter(str(item.get("id")) for _file, item in raw)
    problems += [f"duplicate id {i!r} ({n} times)" for i, n in ids.items() if n > 1]
    for file, item in raw:
        where = f"{file}: {item.get('id')!r}"
        if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", str(item.get("id") or "")):
            problems.append(f"{where}: id is not kebab-case")
        if item.get("channel") not in driver.CHANNELS:
            problems.append(f"{where}: unknown channel {item.get('channel')!r}")
        account = accounts.get(str(item.get("account")))
        if account is None:
            problems.append(f"{where}: account {item.get('account')!r} not in accounts.csv")
        elif item.get("channel") == "sms" and not account.get("phone"):
            problems.append(f"{where}: SMS scenario on an account without a phone")
        if not driver.scenario_lines(item) or not item.get("script"):
            problems.append(f"{where}: no script")
        identity = item.get("identity") or {}
        missing = [fact for fact in driver.IDENTITY_KINDS if fact not in identity]
        if missing:
            problems.append(f"{where}: identity lacks {', '.join(missing)}")
        unknown = set(item.get("wrong_identity") or {}) - set(driver.IDENTITY_KINDS)
        if unknown:
            problems.append(f"{where}: wrong_identity has unknown facts {sorted(unknown)}")
        expect = item.get("expect") or {}
        outcome = expect.get("outcome")
        if outcome not in driver.OUTCOMES:
            problems.append(f"{where}: unknown outcome {outcome!r}")
        if outcome == "plan" and expect.get("plan_kind") not in driver.PLAN_KINDS:
            problems.append(f"{where}: plan without a known plan_kind")
        if outcome == "escalated" and expect.get("reason") not in driver.REASONS:
            problems.append(f"{where}: escalated without a known reason")
        if outcome != "escalated" and expect.get("reason") is not None:
            problems.append(f"{where}: a reason on a {outcome} outcome")
        sub = expect.get("sub_reason")
        if sub is not None and (sub not in driver.SUB_REASONS or expect.get("reason") != "dispute"):
            problems.append(
                f"{where}: sub_reason {sub!r} (only for disputes: {driver.SUB_REASONS})"
            )
        if not isinstance(expect.get("max_turns"), int) or expect["max_turns"] < 1:
            problems.append(f"{where}: max_turns must be a positive integer")
    assert not problems, "\n".join(problems)


def _key(text: str) -> str:
    """Case, punctuation and spacing aside."""
    folded = driver.norm(text).replace("'", "")
    return " ".join(re.sub(r"[^\w$ ]+", " ", folded).split())


def _training_examples(folder: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu") or []:
            for line in str(item.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    found.setdefault(_key(_ANNOTATION.sub(r"\1", line[2:])), path.name)
    return found


@pytest.mark.stack
def test_conversation_quality(
    quality_stack: Stack, stack_settings: Settings, stack_db: sessionmaker[Session]
) -> None:
    _play_and_judge("rasa", quality_stack, stack_settings, stack_db, driver.RESULTS_PATH)


@pytest.mark.stack
def test_conversation_quality_in_process(
    in_process_stack: Stack, in_process_db: sessionmaker[Session]
) -> None:
    """The same suite, the same thresholds, on the gateway's in-process engine (no Rasa server
    or action server on the message path): it must serve debtors as well as the Rasa path."""
    path = driver.RESULTS_PATH.with_name("quality-in-process.json")
    _play_and_judge(
        "in_process",
        in_process_stack,
        driver.settings_of(in_process_stack.env),
        in_process_db,
        path,
    )


def _play_and_judge(
    engine: str, stack: Stack, settings: Settings, db: sessionmaker[Session], path: Path
) -> None:
    run = driver.run_suite(stack.api_url, settings, db, workers=4)
    data = driver.write_report(run, path)
    driver.LAST[engine] = {**data, "results_path": str(path)}
    failing = [
        driver.failure_line(r)
        for r in run.results
        if not r.resolved or r.breaches or r.false_escalation
    ]
    m = run.metrics
    verdict = (
        f"resolution {m['resolution_rate']:.1%} (>= {driver.MIN_RESOLUTION:.0%}), "
        f"breaches {m['breaches']} (== 0), "
        f"false escalation {m['false_escalation_rate']:.1%} (<= {driver.MAX_FALSE_ESCALATION:.0%}), "
        f"missed escalation {m['missed_escalation_rate']:.1%} (== 0)"
    )
    message = f"{verdict}\n{len(failing)} failing scenarios (transcripts in {path}):\n"
    message += "\n".join(failing)
    assert m["resolution_rate"] >= driver.MIN_RESOLUTION, message
    assert m["breaches"] == 0, message
    assert m["false_escalation_rate"] <= driver.MAX_FALSE_ESCALATION, message
    assert m["missed_escalations"] == 0, message


def test_no_scenario_line_is_in_the_training_data() -> None:
    """The suite measures the bot on words it was not trained on (README): no debtor line of a
    scenario (of MIN_WORDS_COPIED words or more) may appear in data/nlu, case and punctuation
    aside."""
    examples = _training_examples(NLU_DIR)
    copied: dict[str, list[str]] = {}
    for _file, item in driver.load_raw_scenarios():
        for line in driver.scenario_lines(item):
            key = _key(line)
            if len(key.split()) >= MIN_WORDS_COPIED and key in examples:
                copied.setdefault(f"{line!r} (in data/nlu/{examples[key]})", []).append(item["id"])
    assert not copied, "scenario lines found in the training data:\n" + "\n".join(
        f"{line}: {', '.join(sorted(set(ids)))}" for line, ids in copied.items()
    )
