"""One real stack (trained model, Rasa, action server, API) for the whole test session; `stack`
and `stack_db` live in tests/conftest.py because the browser tests share the same stack."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from devstack.stack import Stack
from tests.support.chat import Chat, start_chat


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=30.0) as client:
        yield client


@pytest.fixture
def new_chat(api: httpx.Client) -> Callable[[], Chat]:
    return lambda: start_chat(api)
