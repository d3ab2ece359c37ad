"""The workspace a payload is for, read the same way by every listener."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot.slack.inbound import workspace_of


def workspace(body: dict[str, Any], context: AsyncBoltContext) -> str:
    """The team the app's token belongs to (bolt's ``auth.test`` result), else the payload's team."""
    authorized = context.authorize_result.team_id if context.authorize_result else None
    return workspace_of(body, authorized)
