"""When and how long to wait before repeating a Foundry call.

Modelled on what the official OpenAI client does against the same API: retry 408, 409, 429 and
5xx; wait ``retry-after-ms``, else ``Retry-After`` (seconds or an HTTP date) when the server
asks for at most 120 s, and give up at once when it asks for longer; otherwise back off
exponentially from 0.5 s to 8 s with up to 25 % jitter. Only calls that are safe to repeat are
repeated after the server may have acted on them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

#: Statuses worth a retry whatever the operation: the server did not act on the request.
ALWAYS_RETRYABLE = frozenset({408, 429})
#: Statuses worth a retry only when repeating the call cannot do harm (reads and deletes).
RETRYABLE_WHEN_SAFE = frozenset({409, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how to space the attempts."""

    max_retries: int = 4
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 120.0
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def backoff(self, attempt: int) -> float:
        """Exponential delay for the attempt that just failed (0-based), minus up to 25 % jitter."""
        delay = min(self.initial_delay * (2**attempt), self.max_delay)
        return float(delay * (1 - 0.25 * self.jitter()))


def server_retry_after(headers: Mapping[str, str]) -> float | None:
    """The wait the server asked for, in seconds, from ``retry-after-ms`` or ``Retry-After``."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    date = headers.get("date")
    now = parsedate_to_datetime(date) if date else datetime.now(UTC)
    return max((when - now).total_seconds(), 0.0)


def status_is_retryable(status: int, *, safe: bool) -> bool:
    """Whether a response with this status may be repeated for this kind of operation."""
    return status in ALWAYS_RETRYABLE or (safe and (status in RETRYABLE_WHEN_SAFE or status >= 500))


def transport_error_is_retryable(exc: httpx.TransportError, *, safe: bool) -> bool:
    """A connection that never opened can always be retried; a broken one only if safe."""
    return safe or isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
