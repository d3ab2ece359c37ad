"""Two awaitables side by side: both results, or the first failure with the other stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

A = TypeVar("A")
B = TypeVar("B")


async def both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Run ``first`` and ``second`` concurrently and return their results.

    Unlike :func:`asyncio.gather`, a failure (or cancellation) of either cancels the other and
    waits for it before the error is raised: nothing goes on by itself after the caller gave up.
    """
    one, two = asyncio.ensure_future(first), asyncio.ensure_future(second)
    try:
        await asyncio.wait((one, two), return_when=asyncio.FIRST_EXCEPTION)
        for task in (one, two):
            if task.done() and (task.cancelled() or task.exception() is not None):
                task.result()  # raises the failure
        return one.result(), two.result()
    except BaseException:
        for task in (one, two):
            task.cancel()
        await asyncio.gather(one, two, return_exceptions=True)
        raise
