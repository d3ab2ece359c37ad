"""Runs one turn: its files, the thread's conversation, the streamed response, the answer.

A turn is a durable record, written before each step that talks to the outside: the response id
is stored as soon as the stream announces it, so a broken stream is recovered by retrieving the
response rather than running the question twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.agent import DEPLOYMENT_KEY, AgentRef
from bot.config import Settings
from bot.errors import BotError, FoundryError, FoundryNotFound, FoundryUnavailable, ResponseFailed
from bot.files.intake import FileIntake
from bot.files.names import safe_name
from bot.foundry.client import Foundry, ResponseRequest
from bot.foundry.events import StreamEvent
from bot.foundry.models import Response
from bot.governance.usage import UsageBook
from bot.outputs.code import SHOW_CODE_ACTION, post_code
from bot.outputs.collect import Generated, asks_for_file, collect, may_have_files
from bot.outputs.post import OutputPoster
from bot.slack.inbound import ThreadKey
from bot.slack.status import END_ACTION, StatusBoard, StatusMessage, button
from bot.together import both
from bot.turns.observer import TERMINAL_STATUSES, THINKING, RunObserver
from bot.turns.poster import ThreadPoster
from bot.turns.prompt import SANDBOX_RESTARTED, turn_input
from bot.turns.spares import SpareConversations
from storage.protocol import Store
from storage.records import FINAL_TURN_STATES, FileStatus, Session, SessionState, Turn, UsageTotals

logger = logging.getLogger(__name__)

#: The first status line waits at most this long for the question to reach Foundry.
THINKING_AFTER_S = 0.5
FILES_READY = ":paperclip: Ready: ask me anything about the files in this thread."
NO_FILE = (
    "No file came back from the sandbox: the model answered in text only. If you want a chart or a file, "
    "ask again and say so explicitly (for example: save the chart as a PNG)."
)


@dataclass(frozen=True)
class TurnDeps:
    """What a turn needs from the rest of the bot."""

    settings: Settings
    store: Store
    foundry: Foundry
    slack: AsyncWebClient
    agent: AgentRef
    statuses: StatusBoard
    intake: FileIntake
    outputs: OutputPoster
    usage: UsageBook
    spares: SpareConversations


@dataclass
class _Opened:
    """A new thread's conversation, its tags, whether it was a spare (tagged later), and whether its question went."""

    conversation_id: str
    tags: dict[str, str]
    spare: bool = False
    sent: bool = False


@dataclass(frozen=True)
class _Run:
    """A finished run: the response, the sandboxes it used, and whether one was new."""

    response: Response
    containers: tuple[str, ...]
    restarted: bool


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
        #: Turns this process is carrying out, from the moment it is handed them to their end.
        self._active: set[int] = set()
        self._usage_recorded: set[int] = set()
        self._poll = recovery_poll_s
        self._limit = recovery_limit_s

    def stop(self, turn_id: int, user_id: str | None) -> bool:
        """Stop a turn in progress here: cancel its run, or, while its files are still being
        attached, keep it from asking Foundry at all; False when no such turn is in progress here."""
        task = self._running.get(turn_id)
        if task is not None and not task.done():
            self._stopped_by[turn_id] = user_id
            task.cancel()
            return True
        if turn_id in self._active:
            self._stopped_by[turn_id] = user_id  # seen before its run starts
            return True
        return False

    async def halt(self, turn_id: int, user_id: str | None) -> None:
        """Stop a turn wherever it is: in progress here (:meth:`stop`), or still queued
        (:meth:`withdraw`); a queued turn claimed in between is in progress by then."""
        if not self.stop(turn_id, user_id) and not await self.withdraw(turn_id, user_id):
            self.stop(turn_id, user_id)

    def _stop_if_asked(self, turn: Turn) -> None:
        """Raise :class:`StopRequested` if Stop was pressed before the turn's run could be cancelled."""
        if turn.id in self._stopped_by:
            raise StopRequested(self._stopped_by.pop(turn.id))

    async def withdraw(self, turn_id: int, user_id: str | None) -> bool:
        """Stop a queued turn before it runs: it never will, and its status line says so.

        False when the turn is not queued (any more): it may have just started, see :meth:`stop`.
        """
        turn = await self._d.store.withdraw_turn(turn_id)
        if turn is None:
            return False
        session = await self._d.store.get_session(turn.session_id)
        if session is not None:
            thread = ThreadKey(team_id=session.team_id, channel_id=session.channel_id, root_ts=session.root_ts)
            self._d.statuses.get(thread, turn.id, turn.status_message_ts).finish(_stopped_text(user_id))
            self._d.statuses.forget(turn.id)
        return True

    async def run(self, turn: Turn) -> None:
        """Run the turn to its end, whatever happens; failures become a sentence in the thread."""
        await self._guarded(turn, resume=False)

    async def resume(self, turn: Turn) -> None:
        """Finish a turn a previous process left in flight, without asking Foundry twice."""
        await self._guarded(turn, resume=True)

    async def _guarded(self, turn: Turn, *, resume: bool) -> None:
        self._active.add(turn.id)  # before any await: a Stop pressed from now on is seen
        try:
            await self._carry_out(turn, resume=resume)
        finally:
            self._active.discard(turn.id)
            self._stopped_by.pop(turn.id, None)

    async def _carry_out(self, turn: Turn, *, resume: bool) -> None:
        session = await self._d.store.get_session(turn.session_id)
        if session is None:
            return
        if session.state is not SessionState.ACTIVE and not resume:
            await self._d.store.stop_turn(turn.id)  # its thread ended while it waited
            return
        thread = ThreadKey(team_id=session.team_id, channel_id=session.channel_id, root_ts=session.root_ts)
        status = self._d.statuses.get(thread, turn.id, turn.status_message_ts)
        poster = ThreadPoster(self._d.slack, thread, turn.id, replies=status)
        try:
            if resume:
                await self._resume(turn, status, poster)
            else:
                await self._run(turn, session, thread, status, poster)
        except StopRequested as stop:
            await self._d.store.stop_turn(turn.id)
            status.finish(_stopped_text(stop.user_id))
        except BotError as exc:
            logger.warning("turn %s failed: %s", turn.id, exc)
            await self._fail(turn, status, poster, _code(exc), exc.user_message)
        except Exception:
            # A bug of ours: log it whole, and still tell the thread instead of going silent.
            logger.exception("turn %s failed unexpectedly", turn.id)
            await self._fail(turn, status, poster, "internal_error", BotError.user_message)
        finally:
            self._d.statuses.forget(turn.id)
            await self._record_usage(turn.id)

    async def _record_usage(self, turn_id: int, ended: Turn | None = None) -> UsageTotals | None:
        """Record a question's usage once it has ended, whichever way (a repeat records nothing).

        ``ended`` is the turn as its last update returned it, which saves reading it again. The
        sandbox session is read from what the turn stored: it started one when its container
        differs from the container of the thread's previous turn that ran in one.
        """
        if turn_id in self._usage_recorded:
            self._usage_recorded.discard(turn_id)
            return None
        turn = ended or await self._d.store.get_turn(turn_id)
        if turn is None or turn.state not in FINAL_TURN_STATES or not turn.text:
            return None  # still running, or files attached without a question
        new_sandbox = 0
        if turn.container_id is not None:
            turns = await self._d.store.list_turns(turn.session_id)
            earlier = [t.container_id for t in turns if t.seq < turn.seq and t.container_id]
            new_sandbox = int(not earlier or earlier[-1] != turn.container_id)
        figures = await self._d.usage.record(turn, sandbox_sessions=new_sandbox)
        if ended is not None:
            self._usage_recorded.add(turn_id)  # the run's own end records it; the final pass skips it
        return figures

    async def _run(
        self, turn: Turn, session: Session, thread: ThreadKey, status: StatusMessage, poster: ThreadPoster
    ) -> None:
        started = time.monotonic()
        if turn.files:
            status.show(":paperclip: Attaching files…")
            outcomes = await self._d.intake.attach(session, turn.files)
            await poster.say("\n".join(outcome.line for outcome in outcomes))
        if not turn.text:
            await self._d.store.finish_turn(turn.id)
            status.finish(FILES_READY)
            return
        self._stop_if_asked(turn)  # Stop pressed while the files were attached
        run = await self._respond(turn, session, thread, status)
        await self._post(turn, session, status, poster, run, started)

    async def _resume(self, turn: Turn, status: StatusMessage, poster: ThreadPoster) -> None:
        if turn.response_id is not None and await poster.already_answered():
            await self._d.store.finish_turn(turn.id)
            status.finish(":white_check_mark: Done.")
        elif turn.response_id is None:
            await self._d.store.fail_turn(turn.id, "interrupted")
            status.finish(":warning: Interrupted.")
            await poster.say("I was restarted before I could work on this. Please ask again.")
        else:
            response = await self.recover(turn.response_id)
            session = await self._d.store.get_session(turn.session_id)
            if session is not None:
                run = _Run(response, tuple(c.container_id for c in response.code_calls if c.container_id), False)
                await self._post(turn, session, status, poster, run, time.monotonic())

    async def _fail(self, turn: Turn, status: StatusMessage, poster: ThreadPoster, code: str, text: str) -> None:
        await self._d.store.fail_turn(turn.id, code)
        status.finish(":warning: Couldn't finish this one.")
        await poster.say(text)

    async def _respond(self, turn: Turn, session: Session, thread: ThreadKey, status: StatusMessage) -> _Run:
        # The first status line goes up once the question is on its way to Foundry (the response
        # stream opened), or after THINKING_AFTER_S if that takes longer: posting it first would
        # hold up the question, and a person can't tell the difference.
        first = _FirstStatus(status, THINKING_AFTER_S)
        try:
            return await self._ask(turn, session, thread, status, first)
        finally:
            first.cancel()

    async def _ask(
        self, turn: Turn, session: Session, thread: ThreadKey, status: StatusMessage, first: _FirstStatus
    ) -> _Run:
        listed = self._d.store.list_files(session.id, statuses=[FileStatus.UPLOADED])
        opened: _Opened | None = None
        if session.conversation_id:
            conversation_id, files = session.conversation_id, await listed
        else:  # a new thread: its files are read while its conversation is opened
            new, files = await both(self._open_conversation(session, thread), listed)
            opened, conversation_id = new, new.conversation_id
        files = files[-self._d.agent.slots :]
        request = ResponseRequest(
            agent_name=self._d.agent.name,
            agent_version=self._d.agent.version,
            conversation_id=conversation_id,
            input=turn_input(turn.text, files),
            structured_inputs=self._d.agent.slot_inputs([f.foundry_file_id for f in files if f.foundry_file_id]),
            include=["code_interpreter_call.outputs"],
            metadata={"slack_thread": thread.tag()},
        )
        observer = RunObserver()
        try:
            self._stop_if_asked(turn)  # Stop pressed while the conversation was opened
            task = asyncio.create_task(self._stream(turn, request, observer, status, first, opened))
            self._running[turn.id] = task
            try:
                response = await task
            except asyncio.CancelledError:
                if turn.id not in self._stopped_by:
                    raise  # the bot is shutting down, not a Stop
                await self._cancel_remote(observer.response_id)
                raise StopRequested(self._stopped_by.pop(turn.id)) from None
            finally:
                self._running.pop(turn.id, None)
                restarted = await self._record_run(turn, session, observer)
        finally:
            self._question_sent(opened)  # if it never was: stopped or failed before the stream opened
        return _Run(response, tuple(observer.containers), restarted)

    async def _open_conversation(self, session: Session, thread: ThreadKey) -> _Opened:
        """A spare conversation, or a new one: either way recorded as the session's before it is used."""
        tags = self._thread_tags(thread)
        spare = await self._d.spares.take(session, agent_version=self._d.agent.version)
        if spare is not None:
            return _Opened(spare, tags, spare=True)
        return _Opened(await self._new_conversation(session.id, tags), tags)

    async def _new_conversation(self, session_id: int, tags: dict[str, str]) -> str:
        conversation = await self._d.foundry.create_conversation(tags)
        await self._d.store.set_conversation_id(session_id, conversation.id, agent_version=self._d.agent.version)
        return conversation.id

    def _thread_tags(self, thread: ThreadKey) -> dict[str, str]:
        return {
            DEPLOYMENT_KEY: self._d.settings.deployment,
            "slack_team": thread.team_id,
            "slack_channel": thread.channel_id,
            "slack_thread_ts": thread.root_ts,
        }

    def _question_sent(self, opened: _Opened | None) -> None:
        """The question is on its way to Foundry (or gave up): tag a spare the thread took, make the next one.

        Once per new thread's first question; off its path, so nothing waits for either.
        """
        if opened is None or opened.sent:
            return
        opened.sent = True
        if opened.spare:
            self._d.spares.tag(opened.conversation_id, opened.tags)
        self._d.spares.refill()

    @asynccontextmanager
    async def _response_stream(
        self, turn: Turn, request: ResponseRequest, opened: _Opened | None
    ) -> AsyncIterator[AsyncIterator[StreamEvent]]:
        """The response's event stream; a spare conversation Foundry no longer has is replaced, once."""
        async with AsyncExitStack() as stack:
            try:
                events = await stack.enter_async_context(self._d.foundry.stream_response(request))
            except FoundryNotFound:
                if opened is None or not opened.spare or not await self._spare_is_gone(opened):
                    raise
                logger.warning("spare conversation %s is gone in Foundry; opening a new one", opened.conversation_id)
                # Forgotten first: if opening a new one fails, the thread's next question opens its own.
                await self._d.store.forget_conversation(turn.session_id, opened.conversation_id)
                opened.conversation_id = await self._new_conversation(turn.session_id, opened.tags)
                request = request.model_copy(update={"conversation_id": opened.conversation_id})
                events = await stack.enter_async_context(self._d.foundry.stream_response(request))
            yield events

    async def _spare_is_gone(self, opened: _Opened) -> bool:
        """Whether Foundry no longer has the spare (a refused question may be about something else).

        Asked by tagging it with its thread, which was due anyway; True only when that finds nothing.
        """
        opened.spare = False  # tagged here, or not at all
        return not await self._d.spares.apply_tags(opened.conversation_id, opened.tags)

    async def _stream(
        self,
        turn: Turn,
        request: ResponseRequest,
        observer: RunObserver,
        status: StatusMessage,
        first: _FirstStatus,
        opened: _Opened | None,
    ) -> Response:
        try:
            async with self._response_stream(turn, request, opened) as events:
                first.show()
                self._question_sent(opened)
                async for event in events:
                    had_id = observer.response_id
                    observer.feed(event)
                    if observer.response_id and not had_id:
                        await self._d.store.set_turn_response(turn.id, observer.response_id)
                    status.show(observer.status_text())
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

    async def _record_run(self, turn: Turn, session: Session, observer: RunObserver) -> bool:
        """Store the run's code and containers; True when it ran in a different sandbox than before."""
        for call_id, code in observer.code:
            await self._d.store.add_code(turn.id, call_id, code)
        restarted = False
        for container_id in observer.containers:
            fresh = session.last_container_id is not None and container_id != session.last_container_id
            restarted = restarted or fresh
            await self._d.store.set_turn_container(turn.id, container_id, new_sandbox=fresh)
        return restarted

    async def _post(
        self, turn: Turn, session: Session, status: StatusMessage, poster: ThreadPoster, run: _Run, started: float
    ) -> None:
        response = run.response
        if response.status == "failed":
            code = response.error.code if response.error else None
            usage = response.usage
            await self._d.store.fail_turn(
                turn.id,
                str(code or "response_failed"),
                input_tokens=usage.input_tokens if usage else None,
                output_tokens=usage.output_tokens if usage else None,
            )  # the tokens a failed response used are billed too
            raise ResponseFailed(f"response {response.id} failed: {response.error}", code=code)
        await self._d.store.start_posting(turn.id)
        files = may_have_files(response, run.containers)  # a text-only answer has none to look for
        if files:
            status.show(":package: Preparing files…")
        await poster.answer(response)
        await self._post_files(turn, session, poster, run, files=files)
        if run.restarted:
            await poster.say(SANDBOX_RESTARTED)
        ran_code = bool(response.code_calls)
        if ran_code and self._d.settings.show_code == "always":
            await post_code(self._d.store, self._d.slack, turn.id)
        usage = response.usage
        finished = await self._d.store.finish_turn(
            turn.id,
            input_tokens=usage.input_tokens if usage else None,
            output_tokens=usage.output_tokens if usage else None,
        )
        figures = await self._record_usage(turn.id, finished) if finished is not None else None
        if figures is not None and self._d.settings.show_cost:
            await poster.say(self._d.usage.footer(figures))
        buttons = [button(SHOW_CODE_ACTION, "Show code", turn.id)] if ran_code else []
        buttons.append(button(END_ACTION, "End session", turn.id))
        status.finish(f":white_check_mark: Done in {time.monotonic() - started:.0f} s.", buttons=buttons)

    async def _post_files(self, turn: Turn, session: Session, poster: ThreadPoster, run: _Run, *, files: bool) -> None:
        """Every file the run generated into the thread, or a sentence saying why not."""
        generated: list[Generated] = []
        not_followed: list[str] = []
        if files:
            outputs = await self._d.store.list_session_outputs(session.id)
            seen = {o.container_file_id for o in outputs if o.turn_id != turn.id}
            collected = await collect(self._d.foundry, run.response, run.containers, seen)
            generated, not_followed = collected.files, collected.not_followed
        notes = await self._d.outputs.post(turn.id, poster.thread, generated)
        notes += [not_attached(name) for name in not_followed]
        if not generated and asks_for_file(turn.text):
            notes.append(NO_FILE)
        for note in notes:
            await poster.say(note)


def not_attached(name: str) -> str:
    """The note for a cited file that was not fetched: it is not in a sandbox this turn ran in."""
    return f"I didn't attach {safe_name(name)}: the answer points to it in a sandbox this question didn't run in."


def _stopped_text(user_id: str | None) -> str:
    who = f" by <@{user_id}>" if user_id else ""
    return f":octagonal_sign: Stopped{who}."


def _code(exc: BotError) -> str:
    code = getattr(exc, "code", None)
    return str(code) if code else type(exc).__name__


class _FirstStatus:
    """A turn's first status line and Slack's indicator: shown once, when the question is on its
    way to Foundry, or after a grace period if getting it there takes longer."""

    def __init__(self, status: StatusMessage, grace: float) -> None:
        self._status = status
        self._shown = False
        self._timer = asyncio.get_running_loop().call_later(grace, self.show)

    def show(self) -> None:
        self._timer.cancel()
        if not self._shown:
            self._shown = True
            self._status.show(THINKING)
            self._status.assistant_status("is thinking…")

    def cancel(self) -> None:
        self._timer.cancel()
