"""Who may use the bot, and where: ``ALLOWED_TEAMS``/``CHANNELS``/``USERS`` and ``EXTERNAL_USERS``.

An empty allowlist allows everyone. People from another organisation in a shared (Slack Connect)
channel are refused unless ``EXTERNAL_USERS=allow``; Slack tells them apart by the team the
payload gives the person (``user_team`` or ``team`` on a message, ``team_id`` on a command,
``user.team_id`` on a button), which differs from the workspace the app is installed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.governance.refusal import Refusal, RefusalReason
from bot.slack.inbound import IncomingMessage


@dataclass(frozen=True)
class Requester:
    """A person asking something of the bot, and where.

    ``team_id`` is the workspace the app serves the request for; ``user_team`` is the person's
    own team when the payload says so (it differs for someone from another organisation).
    ``shared_channel``: Slack marked the conversation as shared with other organisations.
    """

    team_id: str
    channel_id: str
    user_id: str
    user_team: str | None = None
    shared_channel: bool = False

    @property
    def is_external(self) -> bool:
        """The person belongs to another organisation than the workspace.

        In a shared channel a person whose team the payload leaves out counts as external: the
        rule fails closed.
        """
        if self.user_team:
            return self.user_team != self.team_id
        return self.shared_channel


def requester_of(message: IncomingMessage) -> Requester:
    """Who wrote a message, and where."""
    return Requester(message.team_id, message.channel_id, message.user_id, message.user_team, message.shared_channel)


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
                "questions or take files from people outside it.",
            )
        if self._teams and who.team_id not in self._teams:
            return Refusal(
                RefusalReason.TEAM,
                "Sorry, I'm not enabled for this workspace. Ask whoever runs this app to add it to the allowed "
                "workspaces.",
            )
        if self._channels and who.channel_id not in self._channels and not who.channel_id.startswith("D"):
            places = ", ".join(f"<#{channel}>" for channel in sorted(self._channels))
            return Refusal(
                RefusalReason.CHANNEL,
                f"Sorry, I'm not enabled in this channel. You can use me in {places}, or in a DM with me.",
            )
        if self._users and who.user_id not in self._users and who.user_id not in self._admins:
            ask = ", ".join(f"<@{admin}>" for admin in sorted(self._admins)) or "whoever runs this app"
            return Refusal(
                RefusalReason.USER,
                f"Sorry, you're not on the list of people who can use me yet. Ask {ask} for access.",
            )
        return None
