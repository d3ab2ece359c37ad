"""A rule said no: which rule, and the sentence the person reads."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RefusalReason(StrEnum):
    """Which rule refused a request."""

    TEAM = "team_not_allowed"
    CHANNEL = "channel_not_allowed"
    USER = "user_not_allowed"
    EXTERNAL = "external_user"
    TURN_LIMIT = "turn_limit"
    SESSION_LIMIT = "session_limit"


@dataclass(frozen=True)
class Refusal:
    """Which rule refused, and why, in a sentence for the person."""

    reason: RefusalReason
    message: str


def count(n: int, noun: str) -> str:
    """``1 question``, ``3 questions``: a number with its noun (regular plurals only)."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
