"""Show code: the code a turn ran, posted into its thread as a Python snippet."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.inbound import ThreadKey
from storage.protocol import Store

logger = logging.getLogger(__name__)

SHOW_CODE_ACTION = "show_code"


async def post_code(store: Store, slack: AsyncWebClient, turn_id: int) -> bool:
    """Post every code cell the turn ran, in order, as one snippet in its thread; False if there was none."""
    turn = await store.get_turn(turn_id)
    session = await store.get_session(turn.session_id) if turn else None
    if turn is None or session is None:
        return False
    blocks = await store.list_code(turn_id)
    if not blocks:
        return False
    thread = ThreadKey(team_id=session.team_id, channel_id=session.channel_id, root_ts=session.root_ts)
    content = "\n\n".join(
        block.code if len(blocks) == 1 else f"# --- step {n} ---\n{block.code}" for n, block in enumerate(blocks, 1)
    )
    try:
        await slack.files_upload_v2(
            channel=thread.channel_id,
            thread_ts=thread.root_ts,
            content=content,
            filename=f"code-turn-{turn.seq}.py",
            title=f"Code that ran ({len(blocks)} step{'s' if len(blocks) != 1 else ''})",
            snippet_type="python",
        )
    except SlackApiError as exc:
        logger.warning("could not post the code of turn %s: %s", turn_id, exc.response.get("error"))
        return False
    return True
