"""Turns in order per thread, a global cap on running sandboxes, Stop, and failures in plain words."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from bot.emulators.foundry import EmulatorConfig as FoundryConfig
from bot.emulators.foundry import Fault, FoundryEmulator
from bot.emulators.slack import FileUpload, SlackEmulator
from bot.emulators.slack.models import Channel, Message, User
from bot.turns.poster import ANSWER_EVENT

from .harness import Stack, bot_texts, emulators, running_bot

SLOW = "```python\nimport time\ntime.sleep({s})\nprint('{tag}')\n```"


async def mention(slack: SlackEmulator, question: str) -> tuple[User, Channel, Message]:
    """Alice, in #general, asks the bot ``question`` in a new thread; returns her, the channel and the root."""
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> {question}")
    return alice, general, root


async def queued_behind_a_running_question(slack: SlackEmulator) -> tuple[User, Channel, Message, Message]:
    """Alice asks something slow ("one"), then a quick follow-up ("two") while it runs.

    Returns her, the channel, the thread's root and the follow-up's "Queued" status line.
    """
    alice, general, root = await mention(slack, SLOW.format(s=1.5, tag="one"))
    await slack.wait_for_reply(general, root.ts, contains="Running code", timeout=10)
    await slack.post_message(alice, general, SLOW.format(s=0, tag="two"), thread_ts=root.ts)
    queued = await slack.wait_for_reply(general, root.ts, contains="Queued", timeout=10)
    return alice, general, root, queued


async def test_message_during_a_run_is_queued_then_answered_in_order(stack: Stack) -> None:
    """A second question sent while the first runs is acknowledged as queued, then answered after it."""
    slack = stack.slack
    _, general, root, _ = await queued_behind_a_running_question(slack)
    await slack.wait_for_reply(general, root.ts, contains="two", after=root.ts, timeout=20)
    texts = bot_texts(slack, general, root.ts)
    first = next(i for i, t in enumerate(texts) if "one" in t and "Output" in t)
    second = next(i for i, t in enumerate(texts) if "two" in t and "Output" in t)
    assert first < second


async def test_stop_button_cancels_the_running_turn(stack: Stack) -> None:
    """Pressing Stop closes the stream, cancels the response and says so in the status line."""
    slack = stack.slack
    alice, general, root = await mention(slack, SLOW.format(s=30, tag="never"))
    status = await slack.wait_for_reply(general, root.ts, contains="Running code", timeout=10)
    await slack.press_button(alice, general, status.ts, "stop_turn")
    await slack.wait_for(lambda: "Stopped" in (_message(slack, general, root.ts, status.ts) or ""), timeout=10)
    await stack.services.scheduler.wait_idle()
    assert "<@" in (_message(slack, general, root.ts, status.ts) or "")
    assert [r for r in stack.foundry.requests if r.route == "responses.cancel"]
    assert not any("never" in t for t in bot_texts(slack, general, root.ts))


async def test_stop_button_reaches_only_a_turn_of_its_own_thread(stack: Stack) -> None:
    """A Stop press whose value names a turn of another thread (a payload built by hand) stops nothing."""
    slack = stack.slack
    alice, general, root = await mention(slack, SLOW.format(s=6, tag="first-thread"))
    first_status = await slack.wait_for_reply(general, root.ts, contains="Running code", timeout=10)
    first_turn = _button_value(first_status, "stop_turn")
    other = await slack.post_message(alice, general, f"<@{slack.bot.id}> " + SLOW.format(s=1.5, tag="second-thread"))
    other_status = await slack.wait_for_reply(general, other.ts, contains="Running code", timeout=10)

    assert "Running code" in (_message(slack, general, root.ts, first_status.ts) or "")  # still in flight
    await slack.press_button(alice, general, other_status.ts, "stop_turn", value=first_turn)
    await slack.wait_for_reply(general, other.ts, contains="second-thread", after=other.ts, timeout=20)
    assert "Stopped" not in (_message(slack, general, root.ts, first_status.ts) or "")
    await slack.wait_for_reply(general, root.ts, contains="first-thread", after=root.ts, timeout=20)
    await stack.services.scheduler.wait_idle()
    assert not [r for r in stack.foundry.requests if r.route == "responses.cancel"]


def _button_value(message: Message, action_id: str) -> str:
    elements = [e for block in message.blocks or [] for e in block.get("elements") or []]
    return next(str(e["value"]) for e in elements if e.get("action_id") == action_id)


async def test_stop_on_a_queued_question_withdraws_it(stack: Stack) -> None:
    """Stop pressed on a question still waiting its turn: it never runs, and its status line says so."""
    slack = stack.slack
    alice, general, root, queued = await queued_behind_a_running_question(slack)

    await slack.press_button(alice, general, queued.ts, "stop_turn")
    await slack.wait_for(lambda: "Stopped" in (_message(slack, general, root.ts, queued.ts) or ""), timeout=10)
    await slack.wait_for_reply(general, root.ts, contains="one", after=root.ts, timeout=20)
    await slack.settle()
    await stack.services.scheduler.wait_idle()

    assert "<@" in (_message(slack, general, root.ts, queued.ts) or "")
    assert not any("two" in t for t in bot_texts(slack, general, root.ts))
    assert sum(r.route == "responses.create" for r in stack.foundry.requests) == 1


async def test_stop_while_files_are_attached_keeps_the_question_from_foundry(stack: Stack) -> None:
    """Stop pressed while the question's files are still arriving: they finish, the question is never asked."""
    slack = stack.slack
    slack.stall_downloads(64 * 1024)
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    data = FileUpload("big.csv", size=2 * 1024 * 1024, pattern=b"1,2,3,4\n")
    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> describe this", files=[data])
    status = await slack.wait_for_reply(general, root.ts, contains="Attaching files", timeout=10)

    await slack.press_button(alice, general, status.ts, "stop_turn")
    slack.resume_downloads()
    await slack.wait_for(lambda: "Stopped" in (_message(slack, general, root.ts, status.ts) or ""), timeout=20)
    await slack.settle()
    await stack.services.scheduler.wait_idle()

    assert any("Attached big.csv" in t for t in bot_texts(slack, general, root.ts))
    assert not [r for r in stack.foundry.requests if r.route == "responses.create"]


async def test_a_question_withdrawn_while_waiting_for_a_sandbox_stays_stopped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """One sandbox, three threads: Stop on the last in line ends it there; the line moving on doesn't bring it back."""
    async with (
        emulators(monkeypatch) as (slack, foundry),
        running_bot(slack, foundry, tmp_path / "bot.db", max_concurrent_sessions=1) as stack,
    ):
        alice = slack.add_user("alice")
        general = slack.add_channel("general", members=[alice])
        roots = [
            await slack.post_message(alice, general, f"<@{slack.bot.id}> " + SLOW.format(s=s, tag=tag))
            for s, tag in ((1.5, "first"), (0, "second"), (0, "third"))
        ]
        last = roots[2].ts
        waiting = await slack.wait_for_reply(general, last, contains="position 2", timeout=10)

        await slack.press_button(alice, general, waiting.ts, "stop_turn")
        await slack.wait_for_reply(general, roots[1].ts, contains="second", after=roots[1].ts, timeout=30)
        await slack.settle()
        await stack.services.scheduler.wait_idle()

        assert [t for t in bot_texts(slack, general, last)] == [_message(slack, general, last, waiting.ts)]
        assert "Stopped by <@" in (_message(slack, general, last, waiting.ts) or "")
        assert sum(r.route == "responses.create" for r in foundry.requests) == 2


async def test_stop_while_the_conversation_opens_keeps_the_question_from_foundry(stack: Stack) -> None:
    """Foundry is slow to open the thread's conversation; Stop pressed meanwhile: the question is never asked."""
    slack = stack.slack
    stack.foundry.faults.add(Fault(route="conversations.create", kind="delay", delay_s=1.5, count=1))
    alice, general, root = await mention(slack, "what can you do for me?")
    status = await slack.wait_for_reply(general, root.ts, contains="Thinking", timeout=5)

    await slack.press_button(alice, general, status.ts, "stop_turn")
    await slack.wait_for(lambda: "Stopped" in (_message(slack, general, root.ts, status.ts) or ""), timeout=10)
    await slack.settle()
    await stack.services.scheduler.wait_idle()

    assert not any(r.route == "responses.create" for r in stack.foundry.requests)
    assert not any("scripted model" in t for t in bot_texts(slack, general, root.ts))
    [spare] = await stack.services.store.list_spare_conversations()  # made for the next thread all the same
    [session] = await stack.services.store.list_sessions()
    assert {r.route for r in stack.foundry.requests if (r.route or "").startswith("conversations")} == {
        "conversations.create"
    }
    assert set(stack.foundry.state.conversations) == {spare.conversation_id, session.conversation_id}


def _message(slack: SlackEmulator, channel: object, root_ts: str, ts: str) -> str | None:
    return next((m.text for m in slack.thread(channel, root_ts) if m.ts == ts), None)


async def test_a_mention_in_the_answer_notifies_no_one(stack: Stack) -> None:
    """Output that contains <!channel> or a person's <@U…> is shown, but the post Slack receives
    carries no token that notifies."""
    slack = stack.slack
    boss = slack.add_user("boss")
    said = f"hey <!channel> and <!here>, <@{boss.id}> and <@{boss.id}|boss>"
    _, general, root = await mention(slack, f"```python\nprint('{said}')\n```")
    answer = await slack.wait_for_reply(general, root.ts, contains="hey", after=root.ts, timeout=20)
    posted = answer.markdown_text or answer.text or ""
    for token in ("<!channel>", "<!here>", f"<@{boss.id}>", f"<@{boss.id}|"):
        assert token not in posted
    assert said in posted.replace("\u200b", "")


async def test_foundry_429_then_success_gives_one_answer(stack: Stack) -> None:
    """Throttling is waited out: the person sees one answer and no error."""
    slack = stack.slack
    stack.foundry.faults.add(Fault(route="responses.create", kind="status", status=429, count=2, retry_after_ms=50))
    _, general, root = await mention(slack, "```python\nprint('patience')\n```")
    await slack.wait_for_reply(general, root.ts, contains="patience", timeout=20)
    await stack.services.scheduler.wait_idle()
    texts = bot_texts(slack, general, root.ts)
    assert sum("patience" in t for t in texts) == 1
    assert not any("busy" in t for t in texts)


async def test_the_status_line_follows_the_question_to_foundry(stack: Stack) -> None:
    """The first status line goes up once the question reached Foundry: it never holds the question up."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    asked_when_shown: list[int] = []

    def status_shown() -> bool:
        shown = any("Thinking" in t or "Writing" in t for t in bot_texts(slack, general, root.ts))
        if shown:
            asked_when_shown.append(sum(r.route == "responses.create" for r in stack.foundry.requests))
        return shown

    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> what can you do for me?")
    await slack.wait_for(status_shown, timeout=10)
    await slack.wait_for_reply(general, root.ts, contains="scripted model", timeout=10)
    assert asked_when_shown[0] == 1


async def test_the_status_line_shows_while_foundry_keeps_the_question_waiting(stack: Stack) -> None:
    """Throttled for three seconds: "Thinking…" is shown after about half a second all the same."""
    slack = stack.slack
    stack.foundry.faults.add(Fault(route="responses.create", kind="status", status=429, count=1, retry_after_ms=3000))
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    asked_when_shown: list[int] = []

    def status_shown() -> bool:
        shown = any("Thinking" in t for t in bot_texts(slack, general, root.ts))
        if shown:
            asked_when_shown.append(sum(r.route == "responses.create" for r in stack.foundry.requests))
        return shown

    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> what can you do for me?")
    await slack.wait_for(status_shown, timeout=2.5)
    await slack.wait_for_reply(general, root.ts, contains="scripted model", timeout=10)
    assert asked_when_shown[0] == 1  # only the throttled try had reached Foundry


async def test_foundry_down_gives_one_clear_message(stack: Stack) -> None:
    """When Foundry keeps failing, the thread gets one plain sentence, not silence or a traceback."""
    slack = stack.slack
    stack.foundry.faults.add(Fault(route="conversations.create", kind="status", status=503, count=50))
    _, general, root = await mention(slack, "hello?")
    await slack.wait_for_reply(general, root.ts, contains="can't reach Microsoft Foundry", timeout=20)
    await stack.services.scheduler.wait_idle()
    texts = bot_texts(slack, general, root.ts)
    assert sum("can't reach Microsoft Foundry" in t for t in texts) == 1
    assert not any("Traceback" in t or "503" in t for t in texts)


async def test_global_cap_limits_running_sandboxes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With MAX_CONCURRENT_SESSIONS=2, five threads are all answered and never more than two run at once."""
    async with (
        emulators(monkeypatch, FoundryConfig(model_delay_s=0.4)) as (slack, foundry),
        running_bot(slack, foundry, tmp_path / "bot.db", max_concurrent_sessions=2) as stack,
    ):
        alice = slack.add_user("alice")
        general = slack.add_channel("general", members=[alice])
        roots = [
            await slack.post_message(alice, general, f"<@{slack.bot.id}> ```python\nprint('t{i}')\n```")
            for i in range(5)
        ]
        await asyncio.gather(
            *(slack.wait_for_reply(general, r.ts, contains=f"t{i}", timeout=30) for i, r in enumerate(roots))
        )
        await stack.services.scheduler.wait_idle()
        assert foundry.peak_responses_in_progress() <= 2
        assert foundry.peak_responses_in_progress() == 2
        shown = [str(c.params.get("text")) for m in ("chat.postMessage", "chat.update") for c in slack.api_calls(m)]
        assert any("Waiting for a free sandbox: position" in text for text in shown)
        finals = [t for r in roots for t in bot_texts(slack, general, r.ts) if "Waiting for a free sandbox" in t]
        assert finals == []  # every status line moved on once its turn ran


async def test_socket_mode_events_are_acked_and_answered(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """Over Socket Mode, events arrive on the WebSocket, are acknowledged and answered."""
    slack, foundry = pair
    async with running_bot(slack, foundry, tmp_path / "bot.db", socket_mode=True) as stack:
        _, general, root = await mention(slack, "```python\nprint('over the socket')\n```")
        await slack.wait_for_reply(general, root.ts, contains="over the socket", timeout=20)
        await slack.settle()
        await stack.services.scheduler.wait_idle()
        deliveries = slack.deliveries_about(general, root.ts)
        assert deliveries
        assert all(d.acked and d.attempts[0].transport == "socket_mode" for d in deliveries)


async def test_missing_package_gets_a_plain_note(stack: Stack) -> None:
    """Code that imports a package the sandbox lacks gets a sentence saying so, with a way forward."""
    slack = stack.slack
    _, general, root = await mention(slack, "```python\nimport surely_not_installed\n```")
    reply = await slack.wait_for_reply(general, root.ts, contains="fixed set of Python packages", timeout=20)
    assert "surely_not_installed" in (reply.text or "")


async def test_tool_not_available_is_explained(stack: Stack) -> None:
    """When the model or region lacks Code Interpreter, the thread is told so in plain words."""
    slack = stack.slack
    stack.foundry.faults.add(
        Fault(
            route="responses.create",
            kind="status",
            status=400,
            count=1,
            code="tool_not_supported",
            message="The code_interpreter tool is not supported for this model in this region.",
        )
    )
    _, general, root = await mention(slack, "plot it")
    await slack.wait_for_reply(general, root.ts, contains="Code Interpreter isn't available", timeout=20)


async def test_rate_limit_beyond_retries_says_busy(stack: Stack) -> None:
    """Throttling that outlasts the retries ends in one plain sentence about being busy."""
    slack = stack.slack
    stack.foundry.faults.add(Fault(route="responses.create", kind="status", status=429, count=20, retry_after_ms=1))
    _, general, root = await mention(slack, "hello")
    await slack.wait_for_reply(general, root.ts, contains="busy (rate limited)", timeout=20)


async def test_another_apps_lookalike_answer_does_not_stop_a_resumed_turn_answering(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """After a restart the turn looks for its own answer only: another app's post carrying the
    same metadata doesn't count, and the answer still comes."""
    slack, foundry = pair
    alice, robot = slack.add_user("alice"), slack.add_user("other-app", is_bot=True)
    general = slack.add_channel("general", members=[alice, robot])
    db = tmp_path / "bot.db"
    async with running_bot(slack, foundry, db) as stack:
        root = await slack.post_message(alice, general, f"<@{slack.bot.id}> " + SLOW.format(s=1.5, tag="mine"))
        await slack.wait_for_reply(general, root.ts, contains="Running code", timeout=10)
        [turn] = await stack.services.store.list_in_flight_turns()
        lookalike = {"event_type": ANSWER_EVENT, "event_payload": {"turn_id": turn.id}}
        await slack.post_message(robot, general, "not the answer", thread_ts=root.ts, metadata=lookalike)
    async with running_bot(slack, foundry, db) as stack:
        await slack.wait_for_reply(general, root.ts, contains="mine", after=root.ts, timeout=20)
        await stack.services.scheduler.wait_idle()
    assert sum("mine" in t and "Output" in t for t in bot_texts(slack, general, root.ts)) == 1


async def test_healthz_answers(stack: Stack) -> None:
    """GET /healthz answers 200 with the transport mode."""
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{stack.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "mode": "http"}


async def test_turn_interrupted_by_a_restart_is_answered_once(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """A turn running when the bot stops is finished by the next process from its response id, not re-run."""
    slack, foundry = pair
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    db = tmp_path / "bot.db"
    async with running_bot(slack, foundry, db):
        root = await slack.post_message(alice, general, f"<@{slack.bot.id}> " + SLOW.format(s=1.5, tag="survived"))
        await slack.wait_for_reply(general, root.ts, contains="Running code", timeout=10)
    async with running_bot(slack, foundry, db) as stack:
        await slack.wait_for_reply(general, root.ts, contains="survived", after=root.ts, timeout=20)
        await stack.services.scheduler.wait_idle()
    assert sum(1 for r in foundry.requests if r.route == "responses.create") == 1
    assert sum("survived" in t and "Output" in t for t in bot_texts(slack, general, root.ts)) == 1
