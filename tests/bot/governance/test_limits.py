"""When the day's limits reset: midnight UTC, said in hours and minutes."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.governance.limits import day_start, resets


def test_the_day_starts_at_midnight_utc() -> None:
    assert day_start(datetime(2026, 11, 29, 17, 45, tzinfo=UTC)) == datetime(2026, 11, 29, tzinfo=UTC)


def test_reset_time_in_hours_and_minutes() -> None:
    assert resets(datetime(2026, 11, 29, 21, 30, tzinfo=UTC)).endswith("in 2 h 30 min.")
    assert resets(datetime(2026, 11, 29, 23, 59, 30, tzinfo=UTC)).endswith("in 1 min.")
    assert resets(datetime(2026, 11, 29, 23, 15, tzinfo=UTC)).endswith("in 45 min.")
