"""Follows a response stream: what to show in the status line, and what to record as it happens."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.foundry.events import CodeDone, OutputItemEvent, ResponseEvent, StreamEvent, TextDelta
from bot.foundry.models import CodeInterpreterCall, Response

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "incomplete"})

#: The status line before the run shows anything else.
THINKING = ":thinking_face: Thinking…"


@dataclass
class RunObserver:
    """The state of one streamed run, fed one event at a time."""

    response_id: str | None = None
    steps: int = 0
    writing: bool = False
    containers: list[str] = field(default_factory=list)
    code: list[tuple[str, str]] = field(default_factory=list)
    final: Response | None = None

    def feed(self, event: StreamEvent) -> None:
        """Take in one event."""
        if isinstance(event, ResponseEvent):
            self.response_id = self.response_id or event.response.id
            if event.response.status in TERMINAL_STATUSES:
                self.final = event.response
        elif isinstance(event, OutputItemEvent) and isinstance(event.item, CodeInterpreterCall):
            if event.type.endswith(".added"):
                self.steps += 1
            # Noted as soon as it is known: a turn stopped mid-run still leaves a sandbox to delete.
            if event.item.container_id and event.item.container_id not in self.containers:
                self.containers.append(event.item.container_id)
        elif isinstance(event, CodeDone):
            self.code.append((event.item_id, event.code))
        elif isinstance(event, TextDelta):
            self.writing = True

    def status_text(self) -> str:
        """The status line for the run so far."""
        if self.writing:
            return ":writing_hand: Writing the answer…"
        if self.steps:
            return f":gear: Running code (step {self.steps})…"
        return THINKING
