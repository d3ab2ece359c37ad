"""Working under a lease: renew it on a heartbeat, and stop the work once it is lost.

A worker that claims a job leases it rather than owning it: if the worker dies, nobody releases
the job, so it comes due again when the lease runs out. The shorter the lease, the sooner a dead
worker's job is taken over, but a live worker must then keep renewing it for as long as it works
(a delete can take minutes when Foundry throttles). A renewal that finds the job taken over (the
lease ran out while the process stalled, and another worker claimed it) cancels the work, so two
workers do not keep at the same job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from bot.errors import StorageError

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Renewals per lease: two may fail (a busy database, a stalled loop) before the lease runs out.
BEATS_PER_LEASE = 3


class LeaseLost(Exception):
    """Another worker holds the lease now; the work was cancelled."""


async def hold_lease(work: Coroutine[Any, Any, T], renew: Callable[[], Awaitable[bool]], *, lease: float) -> T:
    """Run ``work`` while ``renew`` extends its lease of ``lease`` seconds every third of that.

    Returns the work's result, or raises :class:`LeaseLost` once ``renew`` says the lease is no
    longer ours (False). A renewal that fails with a storage error is tried again at the next
    beat: with three beats per lease, one failed beat does not lose it.
    """
    task = asyncio.create_task(work)
    heartbeat = asyncio.create_task(_renew_until_lost(renew, lease / BEATS_PER_LEASE))
    try:
        await asyncio.wait((task, heartbeat), return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Also on our own cancellation: neither task may outlive this call.
        heartbeat.cancel()
        task.cancel()
        await asyncio.gather(heartbeat, task, return_exceptions=True)
    if not task.cancelled():
        return task.result()  # the work finished first (its own error, if any, is raised here)
    heartbeat.result()  # a heartbeat that broke says why
    raise LeaseLost


async def _renew_until_lost(renew: Callable[[], Awaitable[bool]], every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            if not await renew():
                return
        except StorageError as exc:
            logger.warning("could not renew a lease (trying again in %.1f s): %s", every, exc)
