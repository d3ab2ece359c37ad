"""The door every request passes: the access rules, then the day's limits, explained to whoever is refused.

A refused person reads why in an ephemeral message (nobody else sees it): once per thread for an
access rule (so a conversation they keep trying in isn't flooded), once per message for a limit.
Nothing of theirs is queued, so no file of theirs leaves Slack.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.governance.access import AccessPolicy, Requester
from bot.governance.limits import DailyLimits
from bot.governance.refusal import Refusal
from storage.protocol import Store

logger = logging.getLogger(__name__)

NOTHING_SENT = "Nothing you shared was sent anywhere."


class Gate:
    """Lets allowed people through, and tells the others why not."""

    def __init__(self, policy: AccessPolicy, limits: DailyLimits, store: Store, slack: AsyncWebClient) -> None:
        self.policy = policy
        self.limits = limits
        self._store = store
        self._slack = slack

    async def admit(self, who: Requester, root_ts: str, *, shared: bool = True) -> bool:
        """True when the access rules allow the person; otherwise explain once in this thread.

        ``shared``: the person sent something (a message, files), so the explanation says that
        none of it was sent anywhere; a button press sends nothing.
        """
        refusal = self.policy.check(who)
        if refusal is None:
            return True
        if shared:
            refusal = Refusal(refusal.reason, f"{refusal.message} {NOTHING_SENT}")
        await self.refuse_once(who, refusal, root_ts, key=f"{root_ts}:{who.user_id}")
        return False

    async def refuse_once(self, who: Requester, refusal: Refusal, thread_ts: str | None, *, key: str) -> None:
        """Explain a refusal unless this one (``key``: a thread and person, or a message) was explained."""
        claim = f"refused:{refusal.reason}:{who.team_id}:{who.channel_id}:{key}"
        if not await self._store.claim_event(claim):
            return
        logger.info("refused %s in %s: %s", who.user_id, who.channel_id, refusal.reason)
        if not await self._explain(who, refusal, thread_ts=thread_ts):
            await self._store.release_event(claim)  # not told: the next refusal here explains it

    async def _explain(self, who: Requester, refusal: Refusal, *, thread_ts: str | None) -> bool:
        """Tell only the person, in the thread; False when Slack wouldn't take the message."""
        try:
            await self._slack.chat_postEphemeral(
                channel=who.channel_id, user=who.user_id, thread_ts=thread_ts, text=refusal.message
            )
        except SlackApiError as exc:
            logger.info("could not explain a refusal in %s: %s", who.channel_id, exc.response.get("error"))
            return False
        return True
