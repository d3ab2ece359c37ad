"""What the bot used: recorded once per turn, summed for ``/interpreter usage``, priced if asked.

Each turn records its tokens (from the response's ``usage``), how long it ran and how many new
sandbox sessions it started. With ``PRICE_PER_SESSION``, ``PRICE_PER_1K_INPUT_TOKENS`` and
``PRICE_PER_1K_OUTPUT_TOKENS`` set, figures come with an estimated cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, timedelta

from bot.config import Settings
from bot.governance.refusal import count
from storage import Clock
from storage.protocol import Store
from storage.records import Turn, UsageEntry, UsageGroup, UsageTotals


@dataclass(frozen=True)
class Prices:
    """Optional prices; with none set there is no cost to show."""

    per_session: float | None = None
    per_1k_input: float | None = None
    per_1k_output: float | None = None
    currency: str = "$"

    @classmethod
    def from_settings(cls, settings: Settings) -> Prices:
        """The prices the settings give."""
        return cls(
            settings.price_per_session,
            settings.price_per_1k_input_tokens,
            settings.price_per_1k_output_tokens,
            settings.price_currency,
        )

    @property
    def known(self) -> bool:
        """At least one price is set."""
        return any(p is not None for p in (self.per_session, self.per_1k_input, self.per_1k_output))

    def cost(self, totals: UsageTotals) -> float | None:
        """The estimated cost of the totals; None when no price is set."""
        if not self.known:
            return None
        return (
            totals.sandbox_sessions * (self.per_session or 0.0)
            + totals.input_tokens / 1000 * (self.per_1k_input or 0.0)
            + totals.output_tokens / 1000 * (self.per_1k_output or 0.0)
        )

    def format(self, amount: float) -> str:
        """An amount with the currency, precise enough for small sums."""
        digits = 2 if amount >= 1 or amount == 0 else 4
        return (
            f"{self.currency}{amount:,.{digits}f}"
            if len(self.currency) == 1
            else f"{amount:,.{digits}f} {self.currency}"
        )


class UsageBook:
    """Records turns' usage and answers questions about it."""

    def __init__(self, store: Store, prices: Prices, clock: Clock) -> None:
        self._store = store
        self.prices = prices
        self._clock = clock

    async def record(self, turn: Turn, *, sandbox_sessions: int) -> UsageTotals:
        """Record a finished turn's usage once (a second call changes nothing); returns the turn's figures."""
        entry = UsageEntry(
            turn_id=turn.id,
            team_id=turn.team_id,
            channel_id=turn.channel_id,
            user_id=turn.user_id,
            day=(turn.finished_at or self._clock()).astimezone(UTC).date(),
            input_tokens=turn.input_tokens or 0,
            output_tokens=turn.output_tokens or 0,
            sandbox_sessions=sandbox_sessions,
            duration_ms=turn.duration_ms or 0,
        )
        await self._store.record_usage(entry)
        return UsageTotals(
            turns=1,
            input_tokens=entry.input_tokens,
            output_tokens=entry.output_tokens,
            sandbox_sessions=entry.sandbox_sessions,
            duration_ms=entry.duration_ms,
        )

    def footer(self, figures: UsageTotals) -> str:
        """The one line under an answer when ``SHOW_COST`` is on."""
        cost = self.prices.cost(figures)
        parts = [
            f"{figures.input_tokens:,} input + {figures.output_tokens:,} output tokens",
            f"{figures.duration_ms / 1000:.0f} s",
        ]
        if figures.sandbox_sessions:
            parts.append(count(figures.sandbox_sessions, "new sandbox session"))
        if cost is not None:
            parts.insert(0, f"about {self.prices.format(cost)}")
        return ":receipt: " + " · ".join(parts)

    async def report(self, team_id: str, channel_id: str, user_id: str, *, admin: bool) -> str:
        """``/interpreter usage``: today and the last 7 days, for the person and the channel (and, for
        admins, the workspace's top channels and people)."""
        today = self._clock().astimezone(UTC).date()
        week = today - timedelta(days=6)
        lines = ["*Usage* (UTC days; the last 7 days include today)"]
        place = "This DM" if channel_id.startswith("D") else f"<#{channel_id}>"
        for label, who in (("You", {"user_id": user_id}), (place, {"channel_id": channel_id})):
            day = await self._store.usage_totals(team_id, start=today, end=today, **who)
            seven = await self._store.usage_totals(team_id, start=week, end=today, **who)
            lines.append(f"• {label}: today {self._describe(day)}; last 7 days {self._describe(seven)}")
        if admin:
            total = await self._store.usage_totals(team_id, start=week, end=today)
            lines.append(f"*Workspace, last 7 days*: {self._describe(total)}")
            for group, title, mention in (
                (UsageGroup.CHANNEL, "Top channels", "<#{}>"),
                (UsageGroup.USER, "Top people", "<@{}>"),
            ):
                ranks = await self._store.top_usage(team_id, by=group, start=week, end=today, limit=5)
                if ranks:
                    lines.append(f"*{title}*")
                    lines.extend(
                        f"{i}. {mention.format(r.key)}: {self._describe(r.totals)}" for i, r in enumerate(ranks, 1)
                    )
        if not self.prices.known:
            lines.append("_Set PRICE_PER_SESSION and PRICE_PER_1K_INPUT/OUTPUT_TOKENS to see estimated costs._")
        return "\n".join(lines)

    def _describe(self, totals: UsageTotals) -> str:
        text = (
            f"{count(totals.turns, 'turn')}, {totals.total_tokens:,} tokens "
            f"({totals.input_tokens:,} in, {totals.output_tokens:,} out), "
            f"{count(totals.sandbox_sessions, 'sandbox session')}"
        )
        cost = self.prices.cost(totals)
        return f"{text}, about {self.prices.format(cost)}" if cost is not None else text
