"""Who may use the bot, and where: ``ALLOWED_TEAMS``/``CHANNELS``/``USERS`` and ``EXTERNAL_USERS``.

An empty allowlist allows everyone. People from another organisation in a shared (Slack Connect)
channel are refused unless ``EXTERNAL_USERS=allow``; Slack tells them apart by the team the
payload gives the person (``user_team`` or ``team`` on a message, ``team_id`` on a command,
``user.team_id`` on a button), which differs from the workspace the app is installed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.config import Settings


class RefusalReason(StrEnum):
    """Which rule refused a person."""

    TEAM = "team_not_allowed"
    CHANNEL = "channel_not_allowed"
    USER = "user_not_allowed"
    EXTERNAL = "external_user"
    TURN_LIMIT = "turn_limit"
    SESSION_LIMIT = "session_limit"


@dataclass(frozen=True)
class Refusal:
    """A rule said no: which one, and the sentence the person reads."""

    reason: RefusalReason
    message: str


@dataclass(frozen=True)
class Requester:
    """A person asking something of the bot, and where.

    ``team_id`` is the workspace the app serves the request for; ``user_team`` is the person's
    own team when the payload says so (it differs for someone from another organisation).
    """

    team_id: str
    channel_id: str
    user_id: str
    user_team: str | None = None

    @property
    def is_external(self) -> bool:
        """The person belongs to another organisation than the workspace."""
        return bool(self.user_team) and self.user_team != self.team_id


class AccessPolicy:
    """The allowlists and the external-user policy, read from settings once."""

    def __init__(self, settings: Settings) -> None:
        self._teams = frozenset(settings.allowed_teams)
        self._channels = frozenset(settings.allowed_channels)
        self._users = frozenset(settings.allowed_users)
        self._admins = frozenset(settings.admin_users)
        self._externals_allowed = settings.external_users == "allow"

    def is_admin(self, user_id: str) -> bool:
        """Admins see the workspace's usage; they are allowed users too."""
        return user_id in self._admins

    def check(self, who: Requester) -> Refusal | None:
        """None when the person may use the bot here; otherwise the first rule that refuses."""
        if who.is_external and not self._externals_allowed:
            return Refusal(
                RefusalReason.EXTERNAL,
                "Sorry, I only work for members of this workspace's organisation, so I can't run "
                "questions or take files from people outside it. Nothing you shared was sent anywhere.",
            )
        if self._teams and who.team_id not in self._teams:
            return Refusal(
                RefusalReason.TEAM,
                "Sorry, I'm not enabled for this workspace. Ask whoever runs this app to add it to the allowed "
                "workspaces. Nothing you shared was sent anywhere.",
            )
        if self._channels and who.channel_id not in self._channels and not who.channel_id.startswith("D"):
            places = ", ".join(f"<#{channel}>" for channel in sorted(self._channels))
            return Refusal(
                RefusalReason.CHANNEL,
                f"Sorry, I'm not enabled in this channel. You can use me in {places}, or in a DM with me. "
                "Nothing you shared was sent anywhere.",
            )
        if self._users and who.user_id not in self._users and who.user_id not in self._admins:
            ask = ", ".join(f"<@{admin}>" for admin in sorted(self._admins)) or "whoever runs this app"
            return Refusal(
                RefusalReason.USER,
                f"Sorry, you're not on the list of people who can use me yet. Ask {ask} for access. "
                "Nothing you shared was sent anywhere.",
            )
        return None
