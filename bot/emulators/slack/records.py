"""What the emulator saw and did, kept so tests can assert on it instead of sleeping.

Every record is appended, never rewritten, except the outcome fields of deliveries that are
still in flight. :class:`Notifier` wakes :meth:`SlackEmulator.wait_for` whenever anything changes.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs

DeliveryKind = Literal["events_api", "slash_commands", "interactive"]
Transport = Literal["http", "socket_mode"]


class Notifier:
    """A level-triggered "something changed" signal for any number of waiters."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake every current waiter."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, at_most: float) -> None:
        """Return at the next change, or after ``at_most`` seconds, whichever comes first."""
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), at_most)
        except TimeoutError:
            return


@dataclass
class ApiCall:
    """One Web API request: the method, its merged parameters, and how the emulator answered."""

    method: str
    params: dict[str, Any]
    http_method: str
    token_kind: Literal["bot", "app", "none", "other"]
    token_valid: bool
    status: int
    ok: bool
    error: str | None
    at: float


@dataclass
class Attempt:
    """One try at delivering a :class:`Delivery` over one transport."""

    transport: Transport
    retry_num: int
    retry_reason: str
    started_at: float
    #: ``acked`` (2xx or ack frame), or why it failed: ``http_timeout``, ``http_error``,
    #: ``connection_failed``, ``too_many_redirects``, ``unknown_error``, ``timeout`` (Socket Mode).
    outcome: str = "pending"
    status: int | None = None
    response_body: str = ""
    response_headers: dict[str, str] = field(default_factory=dict)
    request_headers: dict[str, str] = field(default_factory=dict)
    envelope_id: str | None = None
    elapsed: float | None = None

    @property
    def acked(self) -> bool:
        """Whether this attempt counts as delivered."""
        return self.outcome == "acked"


@dataclass
class Delivery:
    """Something Slack sends the app: an event, a slash command, or an interaction."""

    id: int
    kind: DeliveryKind
    payload: dict[str, Any]
    attempts: list[Attempt] = field(default_factory=list)
    finished: bool = False
    #: The ack's content: an HTTP 2xx body, or an ack frame's ``payload`` (as JSON text).
    ack_body: str | None = None
    #: Set when the emulator itself failed while delivering (a bug to report, not an app error).
    error: str | None = None

    @property
    def acked(self) -> bool:
        """Whether any attempt was acknowledged."""
        return any(a.acked for a in self.attempts)

    @property
    def ack_payload(self) -> dict[str, Any]:
        """The ack's content as Slack reads it (a text body becomes ``{"text": …}``); ``{}`` if none."""
        return parse_response_body(self.ack_body or "")

    @property
    def event(self) -> dict[str, Any]:
        """The inner event of an Events API delivery (empty for other kinds)."""
        inner = self.payload.get("event")
        return inner if isinstance(inner, dict) else {}

    @property
    def event_type(self) -> str | None:
        """``event.type`` for events, ``command`` for slash commands, ``type`` for interactions."""
        if self.kind == "events_api":
            value = self.event.get("type")
        elif self.kind == "slash_commands":
            value = self.payload.get("command")
        else:
            value = self.payload.get("type")
        return value if isinstance(value, str) else None

    @property
    def event_id(self) -> str | None:
        """The Events API ``event_id`` (shared by every retry)."""
        value = self.payload.get("event_id")
        return value if isinstance(value, str) else None


@dataclass
class DownloadRequest:
    """One GET of a file URL on the API host (``primary``) or the CDN host (``cdn``)."""

    host: Literal["primary", "cdn"]
    path: str
    file_id: str | None
    had_authorization: bool
    token_valid: bool
    status: int
    outcome: Literal["file", "login_page", "redirect", "not_found"]


@dataclass
class ResponseUrlPost:
    """One POST to a ``response_url`` and what it did (or the error it got)."""

    url: str
    body: dict[str, Any]
    status: int
    error: str | None
    effect: str | None


@dataclass
class SocketFrame:
    """A text frame the app sent over Socket Mode (acks, and anything unexpected)."""

    connection: int
    data: dict[str, Any]
    at: float


def parse_response_body(raw: str) -> dict[str, Any]:
    """What Slack makes of an ack or response body: JSON, ``payload=`` form, or plain text."""
    text = raw.strip()
    if not text:
        return {}
    if text.startswith("payload="):
        text = parse_qs(text).get("payload", ["{}"])[0]
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return {"text": raw}
        return parsed if isinstance(parsed, dict) else {}
    return {"text": raw}
