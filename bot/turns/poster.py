"""What a turn writes into its thread: the answer, notes, and plain failure sentences.

Every message carries Slack message metadata naming its turn, so a turn resumed after a crash
can see whether its answer was already posted and never answers twice.
"""

from __future__ import annotations

import logging
import re
from typing import Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.foundry.models import Response
from bot.render import for_slack
from bot.slack.inbound import ThreadKey

logger = logging.getLogger(__name__)

ANSWER_EVENT = "code_interpreter_answer"
_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")
_EMPTY_ANSWER = "I ran the request but the model returned no text. Try rephrasing the question."
_INCOMPLETE = "The model stopped before finishing (it ran out of room or time). Try a smaller step."


class ReplyWatcher(Protocol):
    """**Protocol:** told of the app's posts in the thread (see :class:`~bot.slack.status.StatusMessage`)."""

    def reply_mark(self) -> int | None:
        """Taken just before a post."""
        ...

    def replied(self, mark: int | None) -> None:
        """The post went through; ``mark`` is what :meth:`reply_mark` gave before it."""
        ...


class ThreadPoster:
    """Posts into one thread on behalf of one turn."""

    def __init__(
        self, slack: AsyncWebClient, thread: ThreadKey, turn_id: int, *, replies: ReplyWatcher | None = None
    ) -> None:
        self._slack = slack
        self.thread = thread
        self._turn_id = turn_id
        #: Told of each message that reached the thread.
        self._replies = replies

    async def say(self, text: str, *, markdown: bool = False) -> None:
        """Post one message in the thread; a refusal is logged, never raised into the turn."""
        metadata = {"event_type": ANSWER_EVENT, "event_payload": {"turn_id": self._turn_id}}
        channel, thread_ts = self.thread.channel_id, self.thread.root_ts
        mark = self._replies.reply_mark() if self._replies is not None else None
        try:
            if markdown:
                await self._slack.chat_postMessage(
                    channel=channel, thread_ts=thread_ts, markdown_text=text, metadata=metadata
                )
            else:
                await self._slack.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, metadata=metadata)
        except SlackApiError as exc:
            logger.error("could not post to %s: %s", self.thread.tag(), exc.response.get("error"))
            return
        if self._replies is not None:
            self._replies.replied(mark)

    async def answer(self, response: Response) -> None:
        """The response's text, with notes where the run fell short, split to fit Slack."""
        text = response.text or _EMPTY_ANSWER
        if response.status == "incomplete":
            text += f"\n\n_{_INCOMPLETE}_"
        if note := missing_package_note(response):
            text += f"\n\n_{note}_"
        for part in for_slack(text):
            await self.say(part, markdown=True)

    async def already_answered(self) -> bool:
        """Whether an earlier process already posted this turn's messages.

        Only this app's posts count: another app in the channel could post the same metadata.
        (Whether Slack returns metadata without ``include_all_metadata`` is not settled, so it
        is asked for, and each message's author is checked against ``auth.test``.)
        """
        try:
            me = await self._slack.auth_test()
            replies = await self._slack.conversations_replies(
                channel=self.thread.channel_id, ts=self.thread.root_ts, include_all_metadata=True, limit=1000
            )
        except SlackApiError:
            return False
        ours = {me.get("user_id"), me.get("bot_id")} - {None}
        for message in replies.get("messages") or []:
            if message.get("user") not in ours and message.get("bot_id") not in ours:
                continue
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == ANSWER_EVENT and payload.get("turn_id") == self._turn_id:
                return True
        return False


def missing_package_note(response: Response) -> str | None:
    """A sentence when the run failed on a package the sandbox does not have."""
    logs = " ".join(str(output.get("logs", "")) for call in response.code_calls for output in (call.outputs or []))
    missing = _MISSING_MODULE.findall(logs + " " + response.text)
    if not missing:
        return None
    return (
        f"The sandbox has a fixed set of Python packages and `{missing[0]}` isn't one of them. "
        "Ask for an approach that uses common data-science packages (pandas, numpy, matplotlib)."
    )
