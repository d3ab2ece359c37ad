"""Time comes from a clock the caller hands in, so tests can move it and every row agrees on UTC."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: Returns the current time as an aware datetime. The store never reads the system clock itself.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock: the system's wall-clock time in UTC."""
    return datetime.now(UTC)


def require_aware(moment: datetime) -> datetime:
    """Return ``moment`` in UTC, refusing naive datetimes, which would silently mean local time."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected an aware datetime (with a time zone), got {moment!r}")
    return moment.astimezone(UTC)
