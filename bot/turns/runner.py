"""Runs one turn: the thread's conversation, the streamed response, the status line, the answer.

A turn is a durable record, written before each step that talks to the outside: the response id
is stored as soon as the stream announces it, so a broken stream is recovered by retrieving the
response rather than running the question twice.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.agent import AgentRef
from bot.config import Settings
from bot.errors import BotError, FoundryError, FoundryUnavailable, ResponseFailed
from bot.foundry.client import Foundry, ResponseRequest
from bot.foundry.models import Response
from bot.render import for_slack
from bot.slack.inbound import ThreadKey
from bot.slack.status import StatusBoard, StatusMessage
from bot.turns.observer import TERMINAL_STATUSES, RunObserver
from storage.protocol import Store
from storage.records import Session, Turn

logger = logging.getLogger(__name__)

ANSWER_EVENT = "code_interpreter_answer"
_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")
_EMPTY_ANSWER = "I ran the request but the model returned no text. Try rephrasing the question."
_STOPPED = "The model stopped before finishing (it ran out of room or time). Try a smaller step."


@dataclass(frozen=True)
class TurnDeps:
    """What a turn needs from the rest of the bot."""

    settings: Settings
    store: Store
    foundry: Foundry
    slack: AsyncWebClient
    agent: AgentRef
    statuses: StatusBoard


class StopRequested(Exception):
    """Someone pressed Stop; carries who, for the status line."""

    def __init__(self, user_id: str | None) -> None:
        super().__init__(user_id or "")
        self.user_id = user_id


class TurnRunner:
    """Runs turns; remembers which ones are running so Stop can reach them."""

    def __init__(self, deps: TurnDeps, *, recovery_poll_s: float = 1.0, recovery_limit_s: float = 900.0) -> None:
        self._d = deps
        self._running: dict[int, asyncio.Task[Response]] = {}
        self._stopped_by: dict[int, str | None] = {}
        self._poll = recovery_poll_s
        self._limit = recovery_limit_s

    def stop(self, turn_id: int, user_id: str | None) -> bool:
        """Cancel a running turn's run; False when the turn is not running here."""
        task = self._running.get(turn_id)
        if task is None or task.done():
            return False
        self._stopped_by[turn_id] = user_id
        task.cancel()
        return True

    async def run(self, turn: Turn) -> None:
        """Run the turn to its end, whatever happens; failures become a sentence in the thread."""
        session = await self._d.store.get_session(turn.session_id)
        if session is None:
            return
        thread = ThreadKey(team_id=session.team_id, channel_id=session.channel_id, root_ts=session.root_ts)
        status = self._d.statuses.get(thread, turn.id, turn.status_message_ts)
        started = time.monotonic()
        try:
            response = await self._respond(turn, session, thread, status)
            await self._answer(turn, thread, status, response, started)
        except StopRequested as stop:
            await self._d.store.stop_turn(turn.id)
            who = f" by <@{stop.user_id}>" if stop.user_id else ""
            await status.finish(f":octagonal_sign: Stopped{who}.")
        except BotError as exc:
            logger.warning("turn %s failed: %s", turn.id, exc)
            await self._fail(turn, thread, status, _code(exc), exc.user_message)
        except Exception:
            # A bug of ours: log it whole, and still tell the thread instead of going silent.
            logger.exception("turn %s failed unexpectedly", turn.id)
            await self._fail(turn, thread, status, "internal_error", BotError.user_message)
        finally:
            self._d.statuses.forget(turn.id)

    async def _fail(self, turn: Turn, thread: ThreadKey, status: StatusMessage, code: str, text: str) -> None:
        await self._d.store.fail_turn(turn.id, code)
        await status.finish(":warning: Couldn't finish this one.")
        await self._say(thread, text, turn.id)

    async def resume(self, turn: Turn) -> None:
        """Finish a turn a previous process left in flight, without asking Foundry twice."""
        session = await self._d.store.get_session(turn.session_id)
        if session is None:
            return
        thread = ThreadKey(team_id=session.team_id, channel_id=session.channel_id, root_ts=session.root_ts)
        status = self._d.statuses.get(thread, turn.id, turn.status_message_ts)
        try:
            if turn.response_id is None or await self._already_answered(thread, turn.id):
                await self._abandon(turn, thread, status, answered=turn.response_id is not None)
                return
            response = await self.recover(turn.response_id)
            await self._answer(turn, thread, status, response, time.monotonic())
        except BotError as exc:
            await self._fail(turn, thread, status, _code(exc), exc.user_message)
        finally:
            self._d.statuses.forget(turn.id)

    async def _abandon(self, turn: Turn, thread: ThreadKey, status: StatusMessage, *, answered: bool) -> None:
        if answered:
            await self._d.store.finish_turn(turn.id)
            await status.finish(":white_check_mark: Done.")
            return
        await self._d.store.fail_turn(turn.id, "interrupted")
        await status.finish(":warning: Interrupted.")
        await self._say(thread, "I was restarted before I could work on this. Please ask again.", turn.id)

    async def _already_answered(self, thread: ThreadKey, turn_id: int) -> bool:
        """Whether an earlier process already posted this turn's answer (it carries the turn in metadata)."""
        try:
            replies = await self._d.slack.conversations_replies(
                channel=thread.channel_id, ts=thread.root_ts, include_all_metadata=True, limit=1000
            )
        except SlackApiError:
            return False
        for message in replies.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == ANSWER_EVENT and payload.get("turn_id") == turn_id:
                return True
        return False

    async def _respond(self, turn: Turn, session: Session, thread: ThreadKey, status: StatusMessage) -> Response:
        await status.show(":thinking_face: Thinking…")
        await status.assistant_status("is thinking…")
        conversation_id = session.conversation_id or await self._open_conversation(session, thread)
        request = ResponseRequest(
            agent_name=self._d.agent.name,
            agent_version=self._d.agent.version,
            conversation_id=conversation_id,
            input=turn.text,
            structured_inputs=self._d.agent.slot_inputs([]),
            include=["code_interpreter_call.outputs"],
            metadata={"slack_thread": thread.tag()},
        )
        observer = RunObserver()
        task = asyncio.create_task(self._stream(turn, request, observer, status))
        self._running[turn.id] = task
        try:
            return await task
        except asyncio.CancelledError:
            if turn.id not in self._stopped_by:
                raise  # the bot is shutting down, not a Stop
            await self._cancel_remote(observer.response_id)
            raise StopRequested(self._stopped_by.pop(turn.id)) from None
        finally:
            self._running.pop(turn.id, None)
            await self._record_run(turn, session, observer)

    async def _open_conversation(self, session: Session, thread: ThreadKey) -> str:
        conversation = await self._d.foundry.create_conversation(
            {
                "deployment": self._d.settings.deployment,
                "slack_team": thread.team_id,
                "slack_channel": thread.channel_id,
                "slack_thread_ts": thread.root_ts,
            }
        )
        await self._d.store.set_conversation_id(session.id, conversation.id, agent_version=self._d.agent.version)
        return conversation.id

    async def _stream(
        self, turn: Turn, request: ResponseRequest, observer: RunObserver, status: StatusMessage
    ) -> Response:
        try:
            async with self._d.foundry.stream_response(request) as events:
                async for event in events:
                    had_id = observer.response_id
                    observer.feed(event)
                    if observer.response_id and not had_id:
                        await self._d.store.set_turn_response(turn.id, observer.response_id)
                    await status.show(observer.status_text())
        except FoundryUnavailable:
            if observer.response_id is None:
                raise
            logger.info("stream of turn %s broke; recovering %s by id", turn.id, observer.response_id)
        if observer.final is not None:
            return observer.final
        if observer.response_id is None:
            raise FoundryUnavailable("the response stream ended before announcing a response")
        return await self.recover(observer.response_id)

    async def recover(self, response_id: str) -> Response:
        """Wait for a response that is still running, by id, instead of asking again."""
        deadline = time.monotonic() + self._limit
        while True:
            response = await self._d.foundry.get_response(response_id)
            if response.status in TERMINAL_STATUSES or time.monotonic() > deadline:
                return response
            await asyncio.sleep(self._poll)

    async def _cancel_remote(self, response_id: str | None) -> None:
        if response_id is None:
            return
        try:
            await self._d.foundry.cancel_response(response_id)
        except FoundryError as exc:  # finished meanwhile, or not cancellable: the stream is closed anyway
            logger.info("cancel of %s not accepted: %s", response_id, exc)

    async def _record_run(self, turn: Turn, session: Session, observer: RunObserver) -> None:
        for call_id, code in observer.code:
            await self._d.store.add_code(turn.id, call_id, code)
        for container_id in observer.containers:
            fresh = session.last_container_id is not None and container_id != session.last_container_id
            await self._d.store.set_turn_container(turn.id, container_id, new_sandbox=fresh)

    async def _answer(
        self, turn: Turn, thread: ThreadKey, status: StatusMessage, response: Response, started: float
    ) -> None:
        if response.status == "failed":
            code = response.error.code if response.error else None
            raise ResponseFailed(f"response {response.id} failed: {response.error}", code=code)
        await self._d.store.start_posting(turn.id)
        text = response.text or _EMPTY_ANSWER
        if response.status == "incomplete":
            text += f"\n\n_{_STOPPED}_"
        if note := _missing_package_note(response):
            text += f"\n\n_{note}_"
        for part in for_slack(text):
            await self._say(thread, part, turn.id, markdown=True)
        usage = response.usage
        await self._d.store.finish_turn(
            turn.id,
            input_tokens=usage.input_tokens if usage else None,
            output_tokens=usage.output_tokens if usage else None,
        )
        await status.finish(f":white_check_mark: Done in {time.monotonic() - started:.0f} s.")

    async def _say(self, thread: ThreadKey, text: str, turn_id: int, *, markdown: bool = False) -> None:
        metadata = {"event_type": ANSWER_EVENT, "event_payload": {"turn_id": turn_id}}
        try:
            if markdown:
                await self._d.slack.chat_postMessage(
                    channel=thread.channel_id, thread_ts=thread.root_ts, markdown_text=text, metadata=metadata
                )
            else:
                await self._d.slack.chat_postMessage(
                    channel=thread.channel_id, thread_ts=thread.root_ts, text=text, metadata=metadata
                )
        except SlackApiError as exc:
            logger.error("could not post to %s: %s", thread.tag(), exc.response.get("error"))


def _missing_package_note(response: Response) -> str | None:
    logs = " ".join(str(output.get("logs", "")) for call in response.code_calls for output in (call.outputs or []))
    missing = _MISSING_MODULE.findall(logs + " " + response.text)
    if not missing:
        return None
    return (
        f"The sandbox has a fixed set of Python packages and `{missing[0]}` isn't one of them. "
        "Ask for an approach that uses common data-science packages (pandas, numpy, matplotlib)."
    )


def _code(exc: BotError) -> str:
    code = getattr(exc, "code", None)
    return str(code) if code else type(exc).__name__
