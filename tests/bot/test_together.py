"""Two awaitables side by side: a failure of one stops the other before it is raised."""

from __future__ import annotations

import asyncio

import pytest

from bot.together import both


async def test_both_results_in_order() -> None:
    async def later(value: str, delay: float) -> str:
        await asyncio.sleep(delay)
        return value

    assert await both(later("first", 0.02), later("second", 0.0)) == ("first", "second")


@pytest.mark.parametrize("failing", ["first", "second"])
async def test_a_failure_stops_the_other_before_it_is_raised(failing: str) -> None:
    other_finished = asyncio.Event()
    other_stopped = asyncio.Event()

    async def fails() -> None:
        await asyncio.sleep(0.01)
        raise LookupError("no such thing")

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
            other_finished.set()
        except asyncio.CancelledError:
            other_stopped.set()
            raise

    pair = (fails(), slow()) if failing == "first" else (slow(), fails())
    with pytest.raises(LookupError, match="no such thing"):
        await both(*pair)
    assert other_stopped.is_set()
    assert not other_finished.is_set()


async def test_cancelling_the_caller_stops_both() -> None:
    stopped: list[str] = []

    async def waits(name: str) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            stopped.append(name)
            raise

    task = asyncio.ensure_future(both(waits("one"), waits("two")))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(stopped) == ["one", "two"]
