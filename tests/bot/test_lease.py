"""Work under a lease: renewed every third of the lease while it runs, stopped once the lease is lost."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import StorageError
from bot.lease import LeaseLost, hold_lease

LEASE = 0.3  # seconds: a renewal every 0.1 s


class Renewals:
    """A renew callback that answers from a script, counting its calls."""

    def __init__(self, *answers: bool | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def __call__(self) -> bool:
        self.calls += 1
        answer = self.answers.pop(0) if self.answers else True
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_quick_work_returns_its_result_without_renewing() -> None:
    """Work done within the first third of the lease needs no renewal."""
    renew = Renewals()

    async def work() -> str:
        return "done"

    assert await hold_lease(work(), renew, lease=LEASE) == "done"
    assert renew.calls == 0


async def test_slow_work_is_renewed_until_it_finishes() -> None:
    """Work that outlasts the lease keeps it by renewing every third of it, and its result comes back."""
    renew = Renewals()

    async def work() -> int:
        await asyncio.sleep(LEASE * 2)
        return 7

    assert await hold_lease(work(), renew, lease=LEASE) == 7
    assert 3 <= renew.calls <= 7


async def test_lost_lease_cancels_the_work() -> None:
    """Once a renewal says the lease is someone else's, the work is cancelled and LeaseLost raised."""
    renew = Renewals(True, False)
    cancelled = asyncio.Event()

    async def work() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(LeaseLost):
        await asyncio.wait_for(hold_lease(work(), renew, lease=LEASE), 10)
    assert cancelled.is_set()
    assert renew.calls == 2


async def test_storage_error_in_a_renewal_is_retried_at_the_next_beat() -> None:
    """A renewal that cannot reach the database does not end the work; the next beat tries again."""
    renew = Renewals(StorageError("database is locked"), True)

    async def work() -> str:
        await asyncio.sleep(LEASE)
        return "done"

    assert await hold_lease(work(), renew, lease=LEASE) == "done"
    assert renew.calls >= 2


async def test_error_of_the_work_is_raised() -> None:
    """The work's own exception comes out unchanged."""

    async def work() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await hold_lease(work(), Renewals(), lease=LEASE)


async def test_unexpected_renewal_error_cancels_the_work_and_is_raised() -> None:
    """A renewal failing in a way nobody expected stops the work and says why."""
    renew = Renewals(RuntimeError("bug"))

    async def work() -> None:
        await asyncio.sleep(60)

    with pytest.raises(RuntimeError, match="bug"):
        await asyncio.wait_for(hold_lease(work(), renew, lease=LEASE), 10)


async def test_cancelling_the_holder_cancels_work_and_heartbeat() -> None:
    """Cancelling the caller (shutdown) leaves neither the work nor the heartbeat running."""
    renew = Renewals()
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def work() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    holder = asyncio.create_task(hold_lease(work(), renew, lease=LEASE))
    await started.wait()
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder
    assert cancelled.is_set()
    calls = renew.calls
    await asyncio.sleep(LEASE)
    assert renew.calls == calls
