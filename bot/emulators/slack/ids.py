"""Identifiers and message timestamps the way Slack shapes them.

Ids carry a random per-emulator salt so that a bot keeping a durable dedup table across two
emulator runs never mistakes a new event for an old one.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable

_ALPHABET = string.ascii_uppercase + string.digits


def ts_key(ts: str) -> tuple[int, int]:
    """Sort key of a Slack ``ts`` ("1700000000.000100"); plain string order breaks on digit count."""
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


class IdFactory:
    """Hands out unique ids (``F…``, ``Ev…``, ``C…``) and strictly increasing message ``ts``."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._salt = "".join(secrets.choice(_ALPHABET) for _ in range(3))
        self._counter = 0
        self._last_us = 0

    def new(self, prefix: str) -> str:
        """A fresh id such as ``F7QK000001A``; uppercase alphanumerics like Slack's."""
        self._counter += 1
        return f"{prefix}{self._salt}{self._counter:06X}"

    def secret(self, nbytes: int = 12) -> str:
        """An unguessable token for URLs (response_url, upload URL, socket ticket)."""
        return secrets.token_hex(nbytes)

    def next_ts(self) -> str:
        """A message timestamp close to the clock and greater than every earlier one."""
        now_us = int(self._clock() * 1_000_000)
        self._last_us = max(now_us, self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def now(self) -> float:
        """The emulator clock, in epoch seconds."""
        return self._clock()
