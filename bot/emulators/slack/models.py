"""The workspace's nouns: users, channels, messages and files, as plain mutable records.

They hold state only; what they look like on the wire is :mod:`.wire`'s business, and who may
see what is :mod:`.workspace`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

ChannelKind = Literal["public", "private", "im", "mpim"]

#: ``channel_type`` in message events, per channel kind.
CHANNEL_TYPES: Mapping[ChannelKind, str] = MappingProxyType(
    {"public": "channel", "private": "group", "im": "im", "mpim": "mpim"}
)


@dataclass
class User:
    """A person, another app's bot user, or the installed bot itself."""

    id: str
    name: str
    team_id: str
    real_name: str = ""
    is_bot: bool = False
    bot_id: str | None = None
    app_id: str | None = None

    @property
    def display(self) -> str:
        """How the thread renderer names this user."""
        return self.real_name or self.name


@dataclass
class Channel:
    """A conversation: public or private channel, DM (``im``) or group DM (``mpim``)."""

    id: str
    name: str
    kind: ChannelKind
    created: int
    creator: str
    members: set[str] = field(default_factory=set)
    is_archived: bool = False
    is_deleted: bool = False
    is_ext_shared: bool = False
    #: For an ``im``: the human on the other side.
    im_user: str | None = None

    @property
    def channel_type(self) -> str:
        """The ``channel_type`` field of message events in this conversation."""
        return CHANNEL_TYPES[self.kind]

    @property
    def is_private(self) -> bool:
        """Whether non-members are kept from even knowing it exists."""
        return self.kind != "public"


@dataclass
class Message:
    """One message as stored; ephemeral ones carry ``ephemeral_to``."""

    channel: str
    ts: str
    user: str | None
    text: str = ""
    thread_ts: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    subtype: str | None = None
    blocks: list[dict[str, Any]] | None = None
    markdown_text: str | None = None
    attachments: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    files: list[str] = field(default_factory=list)
    reply_broadcast: bool = False
    edited: dict[str, str] | None = None
    deleted: bool = False
    ephemeral_to: str | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    client_msg_id: str | None = None

    @property
    def is_reply(self) -> bool:
        """True for a message inside a thread that is not the thread's root."""
        return self.thread_ts is not None and self.thread_ts != self.ts

    @property
    def root_ts(self) -> str:
        """The ts of the thread this message belongs to (its own ts for a root)."""
        return self.thread_ts or self.ts


@dataclass
class Share:
    """One appearance of a file in a conversation (an entry of ``shares``)."""

    channel: str
    ts: str
    thread_ts: str | None
    user: str


@dataclass
class StoredFile:
    """A file held by the emulator, its bytes on disk at ``path``."""

    id: str
    name: str
    title: str
    mimetype: str
    filetype: str
    pretty_type: str
    size: int
    path: Path
    user: str
    created: int
    shares: list[Share] = field(default_factory=list)
    #: Set on files that ``files.getUploadURLExternal`` announced but are not yet uploaded.
    pending_upload: bool = False
    alt_txt: str | None = None


@dataclass(frozen=True)
class FileUpload:
    """A file a person drops into Slack.

    Give exactly one source: ``content`` (bytes), ``path`` (read in place, never copied), or
    ``size`` (generated on disk by repeating ``pattern``, cheap for hundreds of megabytes).
    ``mimetype``/``filetype`` default to the type of the extension; pass ``""`` to get the empty
    values Slack reports while its scan runs. ``check_file_info`` makes the event carry only the
    Slack Connect stub ``{"id", "file_access": "check_file_info"}``.
    """

    name: str
    content: bytes | None = None
    path: Path | None = None
    size: int | None = None
    pattern: bytes = b"emulated file content\n"
    title: str | None = None
    mimetype: str | None = None
    filetype: str | None = None
    check_file_info: bool = False

    def __post_init__(self) -> None:
        sources = [s for s in (self.content, self.path, self.size) if s is not None]
        if len(sources) != 1:
            raise ValueError("FileUpload needs exactly one of content, path or size")
