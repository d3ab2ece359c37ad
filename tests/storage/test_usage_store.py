"""Usage per turn: recorded once, summed over days, ranked by user and channel."""

from __future__ import annotations

from datetime import date

from storage import Session, Store, UsageEntry, UsageGroup, UsageRank, UsageTotals

DAY = date(2025, 3, 1)
NEXT_DAY = date(2025, 3, 2)


async def _record(store: Store, session: Session, ts: str, *, user: str, day: date, tokens: int) -> bool:
    turn, _ = await store.enqueue_turn(session.id, user_id=user, message_ts=ts, text="q")
    entry = UsageEntry(
        turn_id=turn.id,
        team_id=session.team_id,
        channel_id=session.channel_id,
        user_id=user,
        day=day,
        input_tokens=tokens,
        output_tokens=tokens // 2,
        sandbox_sessions=1,
        duration_ms=1000,
    )
    return await store.record_usage(entry)


async def test_record_usage_once_per_turn(store: Store, session: Session) -> None:
    """A turn's usage is recorded once; recording it again is refused and changes nothing."""
    turn, _ = await store.enqueue_turn(session.id, user_id="U1", message_ts="1.1", text="q")
    entry = UsageEntry(turn_id=turn.id, team_id="T1", channel_id="C1", user_id="U1", day=DAY, input_tokens=10)

    assert await store.record_usage(entry)
    assert not await store.record_usage(entry)
    assert await store.usage_totals("T1", start=DAY, end=DAY) == UsageTotals(turns=1, input_tokens=10)


async def test_usage_totals_by_day_range_user_and_channel(store: Store) -> None:
    """Totals cover the inclusive day range, narrowed to a user or channel when asked."""
    c1, _ = await store.get_or_create_session("T1", "C1", "1.0")
    c2, _ = await store.get_or_create_session("T1", "C2", "2.0")
    await _record(store, c1, "1.1", user="U1", day=DAY, tokens=100)
    await _record(store, c1, "1.2", user="U2", day=NEXT_DAY, tokens=40)
    await _record(store, c2, "2.1", user="U1", day=NEXT_DAY, tokens=10)

    assert await store.usage_totals("T1", start=DAY, end=NEXT_DAY) == UsageTotals(
        turns=3, input_tokens=150, output_tokens=75, sandbox_sessions=3, duration_ms=3000
    )
    assert (await store.usage_totals("T1", start=NEXT_DAY, end=NEXT_DAY)).turns == 2
    assert (await store.usage_totals("T1", start=DAY, end=NEXT_DAY, user_id="U1")).input_tokens == 110
    assert (await store.usage_totals("T1", start=DAY, end=NEXT_DAY, channel_id="C1")).input_tokens == 140
    assert (
        await store.usage_totals("T1", start=NEXT_DAY, end=NEXT_DAY, user_id="U1", channel_id="C2")
    ).input_tokens == 10


async def test_usage_totals_empty_is_zero(store: Store) -> None:
    """A team or range without usage sums to zero."""
    assert await store.usage_totals("T9", start=DAY, end=NEXT_DAY) == UsageTotals()


async def test_top_usage_ranks_users_and_channels(store: Store) -> None:
    """The heaviest users and channels of a team come first, most tokens first, up to the limit."""
    c1, _ = await store.get_or_create_session("T1", "C1", "1.0")
    c2, _ = await store.get_or_create_session("T1", "C2", "2.0")
    elsewhere, _ = await store.get_or_create_session("T2", "C1", "3.0")
    await _record(store, c1, "1.1", user="U1", day=DAY, tokens=10)
    await _record(store, c1, "1.2", user="U2", day=DAY, tokens=300)
    await _record(store, c2, "2.1", user="U1", day=NEXT_DAY, tokens=20)
    await _record(store, elsewhere, "3.1", user="U3", day=DAY, tokens=999)

    users = await store.top_usage("T1", by=UsageGroup.USER, start=DAY, end=NEXT_DAY)
    channels = await store.top_usage("T1", by=UsageGroup.CHANNEL, start=DAY, end=NEXT_DAY, limit=1)

    assert [(rank.key, rank.totals.input_tokens) for rank in users] == [("U2", 300), ("U1", 30)]
    assert channels == [
        UsageRank(
            key="C1",
            totals=UsageTotals(turns=2, input_tokens=310, output_tokens=155, sandbox_sessions=2, duration_ms=2000),
        )
    ]
    assert channels[0].totals.total_tokens == 465
