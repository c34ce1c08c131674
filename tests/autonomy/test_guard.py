"""Guarded tool functions: arguments bound by signature, async tools kept async, async approvers."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from tokenomy.autonomy.gate import Gate
from tokenomy.autonomy.guard import bind_arguments
from tokenomy.autonomy.schedule import Schedule
from tokenomy.autonomy.verdict import ActionDeniedError, ApprovalRequiredError, Verdict
from tokenomy.core.errors import ValidationError
from tokenomy.interfaces.loaders.agent_data import load_schedule


@pytest.fixture(scope="module")
def schedule() -> Schedule:
    return load_schedule()


def test_arguments_are_bound_by_the_signature() -> None:
    def read_file(path: str, limit: int = 10, **extra: Any) -> None: ...

    assert bind_arguments(read_file, ("a.txt", 3), {"mode": "r"}) == {
        "path": "a.txt",
        "limit": 3,
        "mode": "r",
    }

    def bash(*argv: str) -> None: ...

    assert bind_arguments(bash, ("ls", "-la"), {}) == {"argv": ["ls", "-la"], "command": "ls"}


def test_a_positional_path_is_judged_as_the_path(schedule: Schedule) -> None:
    gate = Gate(schedule)

    @gate.guard()
    def read_file(path: str) -> str:
        return "read " + path

    assert read_file("src/app.py") == "read src/app.py"
    with pytest.raises(ApprovalRequiredError) as asked:
        read_file("~/.aws/credentials")  # by position: still a credential read
    assert asked.value.verdict.action_class == "secret_read"


def test_async_tools_stay_async_and_are_gated(schedule: Schedule) -> None:
    gate = Gate(schedule)
    ran: list[str] = []

    @gate.guard("bash")
    async def bash(command: str) -> str:
        await asyncio.sleep(0)
        ran.append(command)
        return "ok"

    assert inspect.iscoroutinefunction(bash)
    assert asyncio.run(bash("ls")) == "ok"
    with pytest.raises(ActionDeniedError):
        asyncio.run(bash("rm -rf /"))
    assert ran == ["ls"]


def test_an_async_approver_is_awaited_for_an_async_tool(schedule: Schedule) -> None:
    gate = Gate(schedule)
    asked: list[str] = []

    async def approve(v: Verdict) -> list[str]:
        await asyncio.sleep(0)
        asked.append(v.action_class)
        return ["alice"] if v.action_class == "secret_read" else []

    @gate.guard(approver=approve)
    async def read_file(path: str) -> str:
        return "read " + path

    assert asyncio.run(read_file("~/.aws/credentials")) == "read ~/.aws/credentials"
    assert asked == ["secret_read"]


def test_a_sync_tool_with_an_async_approver_is_a_clear_error(schedule: Schedule) -> None:
    gate = Gate(schedule)

    async def approve(v: Verdict) -> list[str]:
        return ["alice"]

    @gate.guard(approver=approve)
    def read_file(path: str) -> str:
        return path

    with pytest.raises(ValidationError, match="async"):
        read_file("~/.aws/credentials")
    assert read_file("README.md") == "README.md"  # allowed calls never ask
