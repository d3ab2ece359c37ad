"""Settings of one emulated Slack installation.

Everything a test may want to vary about "Slack" sits here, frozen, so two emulators never share
state and a test can derive a variant with :func:`dataclasses.replace`. Values that tests flip
while the emulator runs (delivery mode, fault injection, redirects) live on the emulator instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.manifest import BOT_EVENTS, BOT_SCOPES

#: The bot scopes the project's manifest asks for: a call that needs any other is refused, as a
#: real installation of the app would refuse it.
DEFAULT_SCOPES: frozenset[str] = frozenset(BOT_SCOPES)

#: The manifest's ``bot_events``; an event outside this set is never delivered.
DEFAULT_BOT_EVENTS: frozenset[str] = frozenset(BOT_EVENTS)


@dataclass(frozen=True)
class RetryPolicy:
    """How long Slack waits for an ack and when it tries again."""

    #: Seconds to wait for a 2xx (HTTP) or an ack frame (Socket Mode).
    ack_timeout: float = 3.0
    #: Delay before each retry; its length is the number of retries (Slack: 3).
    retry_delays: tuple[float, ...] = (0.0, 60.0, 300.0)

    @classmethod
    def fast(cls, ack_timeout: float = 0.5) -> RetryPolicy:
        """A compressed schedule for tests: same shape, milliseconds instead of minutes."""
        return cls(ack_timeout=ack_timeout, retry_delays=(0.0, 0.05, 0.1))


@dataclass(frozen=True)
class EmulatorConfig:
    """Identity, credentials and behaviour of the emulated workspace and app."""

    host: str = "127.0.0.1"
    port: int = 0
    #: Host of the second listener that plays Slack's file CDN (a different origin either way:
    #: it gets its own port). Defaults to ``host``; "127.0.0.2" also works on Linux.
    cdn_host: str | None = None

    team_id: str = "T0EMULATED"
    team_name: str = "Emulated Workspace"
    team_domain: str = "emulated"
    app_id: str = "A0EMULATED"
    bot_user_id: str = "U0EMUBOT01"
    bot_id: str = "B0EMUBOT01"
    bot_name: str = "code-interpreter"

    # Fake credentials: they only ever unlock this emulator.
    bot_token: str = "xoxb-0000000001-0000000002-emulatedbottoken"  # noqa: S105
    app_token: str = "xapp-1-A0EMULATED-0000000003-emulatedapptoken"  # noqa: S105
    signing_secret: str = "emulated-signing-secret"  # noqa: S105
    verification_token: str = "emulated-verification-token"  # noqa: S105

    scopes: frozenset[str] = DEFAULT_SCOPES
    bot_events: frozenset[str] = DEFAULT_BOT_EVENTS
    #: The order in which a channel @mention is delivered; Slack does not guarantee one.
    mention_event_order: tuple[str, str] = ("app_mention", "message")
    #: Whether ``app_mention`` payloads carry the message's ``files`` (Slack's docs don't promise it).
    app_mention_files: bool = True
    #: Deliver events caused by the bot itself (its own posts, reactions), as Slack does.
    deliver_own_events: bool = True

    #: HTTP mode when set (the bot's Events/Interactivity/Commands URL); otherwise Socket Mode.
    request_url: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: Seconds added to ``X-Slack-Request-Timestamp`` (a large value makes signatures stale).
    timestamp_skew: int = 0

    #: Seconds between ``files.completeUploadExternal`` answering and the share landing.
    share_delay: float = 0.0
    #: Serve file downloads through a 302 to the CDN listener.
    redirect_downloads: bool = False
    response_url_max_uses: int = 5
    response_url_ttl: float = 30 * 60.0
    #: Where stored files live; a temporary directory removed on stop when unset.
    file_dir: str | None = None

    #: Epoch seconds for message ts, event_time and file timestamps. Signatures always use the
    #: real time, because the receiving app checks them against its own clock.
    clock: Callable[[], float] = time.time
