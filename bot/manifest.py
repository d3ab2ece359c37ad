"""What the Slack app needs, as ``manifest.yml`` declares it (a test keeps the two in step).

``python -m bot check`` compares the scopes a workspace granted with these, so a missing one is
reported by name before it surfaces as a failed call in some thread.
"""

from __future__ import annotations

#: Bot scopes, each needed by something the bot does (see the comments in manifest.yml).
BOT_SCOPES: tuple[str, ...] = (
    "app_mentions:read",
    "channels:history",
    "groups:history",
    "im:history",
    "mpim:history",
    "chat:write",
    "files:read",
    "files:write",
    "commands",
    "channels:read",
    "groups:read",
    "reactions:read",
)

#: Events the bot subscribes to; each has a listener (or the acknowledging catch-all).
BOT_EVENTS: tuple[str, ...] = (
    "app_mention",
    "message.channels",
    "message.groups",
    "message.im",
    "message.mpim",
    "channel_archive",
    "group_archive",
    "channel_deleted",
    "group_deleted",
    "channel_left",
    "group_left",
    "member_left_channel",
    "reaction_added",
    "app_uninstalled",
    "tokens_revoked",
)
