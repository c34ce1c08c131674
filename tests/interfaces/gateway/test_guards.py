"""guards.Deadline: expiry raises TimeoutError; a cancellation that is not its own passes through."""

from __future__ import annotations

import asyncio

import pytest

from tokenomy.interfaces.gateway.guards import Deadline


def test_a_deadline_raises_timeout_error_and_a_met_one_does_nothing() -> None:
    async def go() -> list[str]:
        out = []
        with Deadline(5.0):
            await asyncio.sleep(0.01)
        out.append("met")
        try:
            with Deadline(0.05):
                await asyncio.sleep(10)
        except TimeoutError:
            out.append("expired")
        await asyncio.sleep(0.3)  # no stray cancellation arrives later
        out.append("still running")
        return out

    assert asyncio.run(go()) == ["met", "expired", "still running"]


def test_a_foreign_cancellation_is_not_turned_into_a_timeout() -> None:
    async def inner() -> None:
        with Deadline(10.0):
            await asyncio.sleep(10)

    async def go() -> None:
        t = asyncio.ensure_future(inner())
        await asyncio.sleep(0.05)
        t.cancel()
        await t

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(go())
