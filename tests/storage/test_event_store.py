"""Processed events: each delivery key is claimed once, and old keys are pruned."""

from __future__ import annotations

from datetime import timedelta

from storage import Store

from .helpers import START, ManualClock


async def test_claim_event_first_time_only(store: Store) -> None:
    """A key is claimed the first time and refused after, while other keys stay free."""
    assert await store.claim_event("Ev01")
    assert not await store.claim_event("Ev01")
    assert await store.claim_event("C1:1700000000.000100")


async def test_prune_events_by_age(store: Store, clock: ManualClock) -> None:
    """Pruning forgets keys received before the cutoff and keeps newer ones."""
    await store.claim_event("old")
    clock.advance(hours=2)
    await store.claim_event("new")

    removed = await store.prune_events(older_than=START + timedelta(hours=1))

    assert removed == 1
    assert await store.claim_event("old")
    assert not await store.claim_event("new")


async def test_prune_events_nothing_old(store: Store) -> None:
    """Pruning with nothing older than the cutoff removes nothing."""
    await store.claim_event("Ev01")

    assert await store.prune_events(older_than=START) == 0


async def test_released_event_can_be_claimed_again(store: Store) -> None:
    """A key whose work didn't happen is given back: the next claim wins; others are untouched."""
    assert await store.claim_event("refused:Ev01")
    assert await store.claim_event("refused:Ev02")

    await store.release_event("refused:Ev01")
    await store.release_event("never-claimed")

    assert await store.claim_event("refused:Ev01")
    assert not await store.claim_event("refused:Ev02")
