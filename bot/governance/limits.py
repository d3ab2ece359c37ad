"""Daily limits: questions per person, new sandbox sessions per channel, per UTC day.

``MAX_TURNS_PER_USER_PER_DAY`` counts the questions a person asked today, queued and running ones
included; a question withdrawn before it ran (Stop pressed while it waited) gives its place back.
``MAX_SESSIONS_PER_CHANNEL_PER_DAY`` counts the sandbox sessions the channel's turns started today
(a turn counts one when it runs in a container its thread had not used before), plus one for each
thread whose question waits for its first sandbox; it refuses threads that would need a new one,
while a thread that already has its sandbox goes on. The relay checks and queues in one step, so a
burst of questions can't slip past a limit together.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from bot.config import Settings
from bot.governance.access import Requester
from bot.governance.refusal import Refusal, RefusalReason, count
from storage import Clock
from storage.protocol import Store


class DailyLimits:
    """Checks a question against the day's limits before it is queued."""

    def __init__(self, store: Store, settings: Settings, clock: Clock) -> None:
        self._store = store
        self._turns = settings.max_turns_per_user_per_day
        self._sessions = settings.max_sessions_per_channel_per_day
        self._clock = clock

    @property
    def active(self) -> bool:
        """At least one limit is set (otherwise there is nothing to check)."""
        return self._turns is not None or self._sessions is not None

    async def check(self, who: Requester, *, has_sandbox: bool) -> Refusal | None:
        """None when the question may run today; otherwise which limit it meets and when that resets.

        ``has_sandbox``: the thread already runs in a sandbox, so it needs no new session.
        """
        now = self._clock().astimezone(UTC)
        if self._turns is not None:
            asked = await self._store.count_turns(who.team_id, since=day_start(now), user_id=who.user_id)
            if asked >= self._turns:
                return Refusal(
                    RefusalReason.TURN_LIMIT,
                    f"You've reached today's limit of {count(self._turns, 'question')} per person "
                    f"(MAX_TURNS_PER_USER_PER_DAY). {resets(now)}",
                )
        if self._sessions is not None and not has_sandbox:
            used = await self._store.count_sandbox_sessions(who.team_id, who.channel_id, since=day_start(now))
            if used >= self._sessions:
                return Refusal(
                    RefusalReason.SESSION_LIMIT,
                    f"This channel has used its {count(self._sessions, 'sandbox session')} for today "
                    f"(MAX_SESSIONS_PER_CHANNEL_PER_DAY), so I can't start a new one. Threads that already "
                    f"have a sandbox can go on. {resets(now)}",
                )
        return None


def day_start(now: datetime) -> datetime:
    """Midnight UTC at the start of ``now``'s day."""
    return datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)


def resets(now: datetime) -> str:
    """When the day's limits reset, as a sentence."""
    left = day_start(now) + timedelta(days=1) - now
    minutes = max(1, int(left.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    wait = f"{hours} h {minutes} min" if hours else f"{minutes} min"
    return f"The limit resets at midnight UTC, in {wait}."
