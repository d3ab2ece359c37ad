"""Files dropped in Slack: checked before anything leaves Slack, streamed to Foundry, each with an outcome."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from pathlib import Path

import pytest

from bot.emulators.foundry import Fault, FoundryEmulator, RecordedRequest
from bot.emulators.slack import EmulatorConfig as SlackConfig
from bot.emulators.slack import FileUpload, SlackEmulator
from bot.emulators.slack import RetryPolicy as SlackRetry
from bot.relay import OFFER_ACTION

from .harness import Stack, bot_texts, emulators, running_bot, uploads

DATA = Path(__file__).parents[1] / "data"
VALID = sorted((DATA / "valid").iterdir())
HOSTILE = {
    "program.exe": ".exe files can't be analysed. Accepted: c, cpp",
    "script.sh": ".sh files can't be analysed",
    "binary-named.png": "not really",
    "pdf-named.txt": "not really",
    "jpeg-named.gif": "not really",
    "not-really.xlsx": "not really",
    "not-really.docx": "not really",
    "binary.csv": "not really",
    "empty.csv": "empty",
    "login-page.pdf": "files:read",
}


async def drop(stack: Stack, files: list[FileUpload], text: str = "") -> tuple[object, str]:
    """Alice mentions the bot with files in a new thread; returns the channel and the root ts."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> {text}".strip(), files=files)
    return general, root.ts


async def answered_mention(slack: SlackEmulator, user: object, channel: object) -> None:
    """Ask something quick and wait for the answer: everything sent before it has been handled."""
    probe = await slack.post_message(user, channel, f"<@{slack.bot.id}> ```python\nprint('probe')\n```")
    await slack.wait_for_reply(channel, probe.ts, contains="probe", timeout=20)


async def settle(stack: Stack) -> None:
    await stack.slack.settle()
    await stack.services.scheduler.wait_idle()


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
async def test_each_accepted_type_arrives_byte_for_byte(stack: Stack, path: Path) -> None:
    """A real sample of every accepted type is attached, and Foundry holds exactly the same bytes."""
    channel, root = await drop(stack, [FileUpload(path.name, path=path)])
    await stack.slack.wait_for_reply(channel, root, contains=f"Attached {path.name}", timeout=20)
    await settle(stack)
    stored = list(stack.foundry.state.files)
    assert len(stored) == 1
    assert stack.foundry.stored_file_sha256(stored[0]) == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(("name", "reason"), sorted(HOSTILE.items()))
async def test_each_hostile_file_is_refused_before_leaving_slack(stack: Stack, name: str, reason: str) -> None:
    """Every hostile sample is skipped with its own reason, and no byte of it reaches Foundry."""
    channel, root = await drop(stack, [FileUpload(name, path=DATA / "hostile" / name)])
    reply = await stack.slack.wait_for_reply(channel, root, contains=f"Skipped {name}", timeout=20)
    await settle(stack)
    assert reason in (reply.text or "")
    assert uploads(stack.foundry) == 0


async def test_path_in_a_file_name_is_never_shown(stack: Stack) -> None:
    """A file named like a path is shown by its last part only."""
    channel, root = await drop(stack, [FileUpload("../../etc/passwd.csv", content=b"a,b\n1,2\n")])
    reply = await stack.slack.wait_for_reply(channel, root, contains="passwd.csv", timeout=20)
    assert "../" not in (reply.text or "")
    assert "etc/" not in (reply.text or "")


async def test_three_files_one_bad_each_get_their_outcome(stack: Stack) -> None:
    """Two good files are attached and the bad one is skipped with its reason, all in one reply."""
    files = [
        FileUpload("sales.csv", path=DATA / "valid" / "sales.csv"),
        FileUpload("program.exe", path=DATA / "hostile" / "program.exe"),
        FileUpload("notes.txt", path=DATA / "valid" / "notes.txt"),
    ]
    channel, root = await drop(stack, files)
    reply = await stack.slack.wait_for_reply(channel, root, contains="Skipped program.exe", timeout=20)
    text = reply.text or ""
    assert "Attached sales.csv" in text
    assert "Attached notes.txt" in text
    assert ".exe files can't be analysed" in text
    await settle(stack)
    assert uploads(stack.foundry) == 2


async def test_question_with_a_file_runs_after_the_file_is_attached(stack: Stack) -> None:
    """A question sent with a file is answered using that file in the same turn."""
    csv = DATA / "valid" / "sales.csv"
    channel, root = await drop(stack, [FileUpload("sales.csv", path=csv)], "describe the data")
    await stack.slack.wait_for_reply(channel, root, contains="revenue", timeout=30)
    await settle(stack)
    run = next(r.body for r in stack.foundry.requests if r.route == "responses.create")
    file_id = next(iter(stack.foundry.state.files))
    assert file_id in run["structured_inputs"].values()
    assert "sales.csv" in run["input"]
    assert "/mnt/data" in run["input"]


async def test_same_bytes_dropped_twice_are_uploaded_once(stack: Stack) -> None:
    """Dropping the same file again in the thread reuses the upload."""
    slack = stack.slack
    csv = DATA / "valid" / "sales.csv"
    channel, root = await drop(stack, [FileUpload("sales.csv", path=csv)])
    await slack.wait_for_reply(channel, root, contains="Attached sales.csv", timeout=20)
    alice = next(u for u in slack.core.workspace.users.values() if u.name == "alice")
    await slack.post_message(alice, channel, "", thread_ts=root, files=[FileUpload("copy.csv", path=csv)])
    await slack.wait_for_reply(channel, root, contains="Already attached", timeout=20)
    await settle(stack)
    assert uploads(stack.foundry) == 1


async def test_cross_host_redirect_is_followed_with_the_token(stack: Stack) -> None:
    """A file served through a redirect to Slack's file host still arrives intact."""
    stack.slack.redirect_downloads()
    path = DATA / "valid" / "invoice.pdf"
    channel, root = await drop(stack, [FileUpload("invoice.pdf", path=path)])
    await stack.slack.wait_for_reply(channel, root, contains="Attached invoice.pdf", timeout=20)
    hosts = {d.host for d in stack.slack.download_requests}
    assert hosts == {"primary", "cdn"}
    assert all(d.had_authorization for d in stack.slack.download_requests)


async def test_more_files_than_slots_are_skipped_with_the_reason(stack: Stack) -> None:
    """Past the agent's file slots (5 here), further files are skipped and say why."""
    files = [FileUpload(f"part{i}.csv", content=f"n\n{i}\n".encode()) for i in range(6)]
    channel, root = await drop(stack, files)
    reply = await stack.slack.wait_for_reply(channel, root, contains="Skipped part5.csv", timeout=30)
    assert "Start a new thread" in (reply.text or "")
    await settle(stack)
    assert uploads(stack.foundry) == 5


async def test_slack_connect_stub_is_resolved_with_files_info(stack: Stack) -> None:
    """A file that arrives as a check_file_info stub is looked up and attached."""
    path = DATA / "valid" / "metrics.json"
    channel, root = await drop(stack, [FileUpload("metrics.json", path=path, check_file_info=True)])
    await stack.slack.wait_for_reply(channel, root, contains="Attached metrics.json", timeout=20)
    assert stack.slack.api_calls("files.info")


async def test_expired_sandbox_gets_the_files_back_and_the_thread_is_told(stack: Stack) -> None:
    """After the sandbox expires, the next turn runs in a fresh one with the files and says so."""
    slack = stack.slack
    csv = DATA / "valid" / "sales.csv"
    channel, root = await drop(stack, [FileUpload("sales.csv", path=csv)], "list files")
    await slack.wait_for_reply(channel, root, contains="sales.csv", timeout=30)
    await settle(stack)
    stack.foundry.expire_containers()
    alice = next(u for u in slack.core.workspace.users.values() if u.name == "alice")
    await slack.post_message(alice, channel, "list files", thread_ts=root)
    await slack.wait_for_reply(channel, root, contains="sandbox was restarted", timeout=30)
    await settle(stack)
    answers = [t for t in bot_texts(slack, channel, root) if "sales.csv" in t and "Attached" not in t]
    assert len(answers) == 2  # both listings show the file: it was mounted again


@pytest.mark.parametrize("mode", ["offer", "auto", "ignore"])
async def test_file_dropped_without_mention_follows_file_drop_mode(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path, mode: str
) -> None:
    """offer asks the uploader first, auto starts at once, ignore leaves the file alone."""
    slack, foundry = pair
    async with running_bot(slack, foundry, tmp_path / "bot.db", file_drop_mode=mode) as stack:
        alice = slack.add_user("alice")
        general = slack.add_channel("general", members=[alice])
        csv = DATA / "valid" / "sales.csv"
        root = await slack.post_message(alice, general, "Q3 numbers", files=[FileUpload("sales.csv", path=csv)])
        if mode == "offer":
            await slack.wait_for(lambda: bool(slack.ephemeral_messages(alice)), timeout=10)
        else:
            await answered_mention(slack, alice, general)  # a later message handled: the drop was too
        await settle(stack)
        offers = slack.ephemeral_messages(alice)
        if mode == "offer":
            assert len(offers) == 1
            assert "Analyse sales.csv?" in (offers[0].text or "")
            assert uploads(foundry) == 0  # nothing leaves Slack before consent
            await slack.press_button(alice, general, offers[0].ts, OFFER_ACTION)
        if mode == "ignore":
            assert offers == []
            assert bot_texts(slack, general, root.ts) == []
            assert uploads(foundry) == 0
            return
        await slack.wait_for_reply(general, root.ts, contains="Attached sales.csv", timeout=20)
        await settle(stack)
        assert uploads(foundry) == 1
        assert slack.ephemeral_messages(alice) == []  # the offer is gone once answered


async def test_an_offer_starts_nothing_on_a_message_its_presser_did_not_post(stack: Stack) -> None:
    """Bob's Analyse button, with a value naming Alice's drop (a payload built by hand), sends none of her files."""
    slack, foundry = stack.slack, stack.foundry
    alice, bob = slack.add_user("alice"), slack.add_user("bob")
    general = slack.add_channel("general", members=[alice, bob])
    csv = DATA / "valid" / "sales.csv"
    hers = await slack.post_message(alice, general, "Q3", files=[FileUpload("sales.csv", path=csv)])
    await slack.post_message(bob, general, "mine", files=[FileUpload("costs.csv", path=csv)])
    await slack.wait_for(lambda: bool(slack.ephemeral_messages(alice) and slack.ephemeral_messages(bob)), timeout=10)

    forged = json.dumps({"ts": hers.ts, "thread_ts": None})
    await slack.press_button(bob, general, slack.ephemeral_messages(bob)[0].ts, OFFER_ACTION, value=forged)
    await settle(stack)
    assert bot_texts(slack, general, hers.ts) == []
    assert uploads(foundry) == 0

    await slack.press_button(alice, general, slack.ephemeral_messages(alice)[0].ts, OFFER_ACTION)
    await slack.wait_for_reply(general, hers.ts, contains="Attached sales.csv", timeout=20)


async def test_an_accepted_offer_whose_message_cannot_be_read_tells_the_uploader(stack: Stack) -> None:
    """Slack refusing to show the dropped files' message is said to the person who pressed Analyse, privately."""
    slack, foundry = stack.slack, stack.foundry
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    hers = await slack.post_message(
        alice, general, "Q3", files=[FileUpload("sales.csv", path=DATA / "valid" / "sales.csv")]
    )
    await slack.wait_for(lambda: bool(slack.ephemeral_messages(alice)), timeout=10)
    offer = slack.ephemeral_messages(alice)[0]

    slack.fail("conversations.replies", "internal_error")
    await slack.press_button(alice, general, offer.ts, OFFER_ACTION)
    await slack.wait_for(
        lambda: any("couldn't read the message" in (m.text or "") for m in slack.ephemeral_messages(alice)), timeout=10
    )
    await settle(stack)
    assert bot_texts(slack, general, hers.ts) == []
    assert uploads(foundry) == 0


async def test_sandbox_file_name_keeps_the_original_spelling(stack: Stack) -> None:
    """The file reaches Foundry under its own name (underscores kept), so code that names it finds it."""
    channel, root = await drop(stack, [FileUpload("sales_2024.csv", path=DATA / "valid" / "sales.csv")])
    await stack.slack.wait_for_reply(channel, root, contains="Attached sales", timeout=20)
    await settle(stack)
    assert [f.filename for f in stack.foundry.state.files.values()] == ["sales_2024.csv"]


async def test_mention_without_files_in_its_payload_reads_the_message_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """When app_mention leaves the files out (and no message event comes), the bot fetches the message."""
    config = SlackConfig(retry=SlackRetry.fast(), app_mention_files=False, bot_events=frozenset({"app_mention"}))
    async with (
        emulators(monkeypatch, slack_config=config) as (slack, foundry),
        running_bot(slack, foundry, tmp_path / "bot.db") as stack,
    ):
        channel, root = await drop(stack, [FileUpload("sales.csv", path=DATA / "valid" / "sales.csv")])
        await slack.wait_for_reply(channel, root, contains="Attached sales.csv", timeout=20)
        assert slack.api_calls("conversations.replies")
        assert [d.event_type for d in slack.deliveries()] == ["app_mention"]


@pytest.mark.parametrize("order", [("app_mention", "message"), ("message", "app_mention")])
async def test_mention_without_files_in_its_payload_takes_them_from_its_twin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, order: tuple[str, str]
) -> None:
    """With the message event subscribed too, the files come from the twin: one turn, no read-back."""
    config = SlackConfig(retry=SlackRetry.fast(), app_mention_files=False, mention_event_order=order)
    async with (
        emulators(monkeypatch, slack_config=config) as (slack, foundry),
        running_bot(slack, foundry, tmp_path / "bot.db") as stack,
    ):
        channel, root = await drop(stack, [FileUpload("sales.csv", path=DATA / "valid" / "sales.csv")], "describe it")
        await slack.wait_for_reply(channel, root, contains="Attached sales.csv", timeout=20)
        await settle(stack)
        assert slack.api_calls("conversations.replies") == []
        assert uploads(foundry) == 1
        assert sum("Attached sales.csv" in t for t in bot_texts(slack, channel, root)) == 1


async def test_file_in_a_dm_is_attached(stack: Stack) -> None:
    """A file sent to the bot in a DM is attached without any mention."""
    slack = stack.slack
    bob = slack.add_user("bob")
    dm = slack.open_dm(bob)
    root = await slack.post_message(bob, dm, "", files=[FileUpload("notes.txt", path=DATA / "valid" / "notes.txt")])
    await slack.wait_for_reply(dm, root.ts, contains="Attached notes.txt", timeout=20)


async def test_foundry_upload_failure_is_retried(stack: Stack) -> None:
    """One failed upload to Foundry is retried and the file is attached."""
    stack.foundry.faults.add(Fault(route="files.create", kind="status", status=500, count=1))
    channel, root = await drop(stack, [FileUpload("sales.csv", path=DATA / "valid" / "sales.csv")])
    await stack.slack.wait_for_reply(channel, root, contains="Attached sales.csv", timeout=20)
    assert uploads(stack.foundry) == 2
    assert stack.foundry.counters()["files"] == 1


async def test_foundry_upload_that_keeps_failing_is_reported(stack: Stack) -> None:
    """An upload that fails every try is reported in the thread, with what to do."""
    stack.foundry.faults.add(Fault(route="files.create", kind="status", status=503, count=10))
    channel, root = await drop(stack, [FileUpload("sales.csv", path=DATA / "valid" / "sales.csv")])
    reply = await stack.slack.wait_for_reply(channel, root, contains="Couldn't attach sales.csv", timeout=30)
    assert "Drop it again" in (reply.text or "")
    assert stack.foundry.counters()["files"] == 0


# Large files stream: the upload starts while the download is still arriving ------------------

MiB = 1024 * 1024
ROWS = b"2024-01-01,42.0\n"


async def upload_in_flight(foundry: FoundryEmulator) -> None:
    """Wait (up to 20 s) until the bot has begun an upload to Foundry that has not finished yet."""
    for _ in range(2000):
        if any(r.route == "files.create" and r.status is None for r in foundry.requests):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no upload to Foundry began while the download was held")


async def skipped_while_uploading(
    stack: Stack, name: str, content: bytes, *, held_after: int
) -> tuple[str, RecordedRequest]:
    """Drop ``content`` with the download held after ``held_after`` bytes until an upload is under
    way, then let it finish: the thread's "Skipped" line, and the one upload Foundry saw begin."""
    stack.slack.stall_downloads(held_after)
    channel, root = await drop(stack, [FileUpload(name, content=content)])
    await upload_in_flight(stack.foundry)
    stack.slack.resume_downloads()
    reply = await stack.slack.wait_for_reply(channel, root, contains=f"Skipped {name}", timeout=20)
    await settle(stack)
    (upload,) = [r for r in stack.foundry.requests if r.route == "files.create"]
    return reply.text or "", upload


#: Held in memory while relayed (up to 4 MiB), and passed straight on (kept nowhere).
SIZES = pytest.mark.parametrize("size", [2 * MiB, 8 * MiB], ids=["in memory", "passed on"])


@SIZES
@pytest.mark.parametrize("held_after", [16 * 1024, 256 * 1024], ids=["start not in", "start passed"])
async def test_large_file_streams_to_foundry_while_still_downloading(stack: Stack, size: int, held_after: int) -> None:
    """With the download held, before the file's start (64 KB) is in or after it passed, the
    upload's request is already open; the file arrives intact, in that one request."""
    stack.slack.stall_downloads(held_after)
    channel, root = await drop(stack, [FileUpload("big.csv", size=size, pattern=ROWS)])
    await upload_in_flight(stack.foundry)
    assert stack.foundry.state.files == {}
    stack.slack.resume_downloads()
    await stack.slack.wait_for_reply(channel, root, contains="Attached big.csv", timeout=20)
    await settle(stack)
    (file_id,) = stack.foundry.state.files
    assert stack.foundry.stored_file_sha256(file_id) == hashlib.sha256(ROWS * (size // len(ROWS))).hexdigest()
    assert uploads(stack.foundry) == 1


@SIZES
async def test_large_file_failing_a_late_check_never_reaches_foundry(
    stack: Stack, size: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A .csv whose start is text but whose end is binary: its upload is cut off before the end."""
    content = ROWS * (size // len(ROWS)) + bytes(range(256)) * 64
    reply, upload = await skipped_while_uploading(stack, "tail.csv", content, held_after=256 * 1024)
    assert "not really a CSV file (its content looks like binary data)" in reply
    assert stack.foundry.state.files == {}
    assert upload.status is None  # the connection was dropped: no answer, no file
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []  # nor an emulator error


@SIZES
async def test_large_file_refused_at_its_start_sends_foundry_no_byte_of_its_body(stack: Stack, size: int) -> None:
    """A .csv that is binary from its first byte: the upload opened while its start arrived is cut
    off before any of its body, so Foundry never sees a byte of it, nor its name."""
    content = bytes(range(256)) * (size // 256)
    reply, upload = await skipped_while_uploading(stack, "numbers.csv", content, held_after=16 * 1024)
    assert "its content looks like binary data" in reply
    await stack.slack.wait_for(lambda: upload.body_received is not None, timeout=10)  # the emulator saw it end
    assert (upload.status, upload.body_received) == (None, 0)
    assert stack.foundry.state.files == {}


async def test_large_file_dropped_twice_is_checked_whole_before_any_upload(stack: Stack) -> None:
    """A second file the size of one already attached is hashed first: the same bytes go once."""
    slack = stack.slack
    upload = FileUpload("big.csv", size=6 * MiB, pattern=ROWS)
    channel, root = await drop(stack, [upload])
    await slack.wait_for_reply(channel, root, contains="Attached big.csv", timeout=20)
    alice = next(u for u in slack.core.workspace.users.values() if u.name == "alice")
    again = FileUpload("again.csv", size=6 * MiB, pattern=ROWS)
    await slack.post_message(alice, channel, "", thread_ts=root, files=[again])
    await slack.wait_for_reply(channel, root, contains="Already attached big.csv", timeout=20)
    await settle(stack)
    assert uploads(stack.foundry) == 1
    assert len(stack.foundry.state.files) == 1


@SIZES
async def test_large_file_whose_streamed_upload_fails_is_sent_again(stack: Stack, size: int) -> None:
    """Foundry refuses the streamed upload once, before reading it: a file held in memory is sent
    again from that copy; one passed on was kept nowhere, so it is fetched again and sent from disk."""
    stack.foundry.faults.add(Fault(route="files.create", kind="status", status=500, count=1))
    channel, root = await drop(stack, [FileUpload("big.csv", size=size, pattern=ROWS)])
    await stack.slack.wait_for_reply(channel, root, contains="Attached big.csv", timeout=20)
    await settle(stack)
    (file_id,) = stack.foundry.state.files
    assert stack.foundry.stored_file_sha256(file_id) == hashlib.sha256(ROWS * (size // len(ROWS))).hexdigest()
    assert [r.status for r in stack.foundry.requests if r.route == "files.create"] == [500, 200]
    fetched = ["file"] if size <= 4 * MiB else ["file", "file"]
    assert [d.outcome for d in stack.slack.download_requests] == fetched


async def test_a_file_fetched_again_after_its_upload_failed_does_not_count_itself_against_the_slots(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """One slot; Foundry takes the whole streamed upload, then fails it: the file is fetched again
    and attached, not skipped as one file too many (its own failed try holds no slot)."""
    slack, foundry = pair
    foundry.faults.add(Fault(route="files.create", kind="status", status=500, count=1, after_body=True))
    async with running_bot(slack, foundry, tmp_path / "bot.db", agent_file_slots=1) as stack:
        channel, root = await drop(stack, [FileUpload("big.csv", size=8 * MiB, pattern=ROWS)])
        await slack.wait_for_reply(channel, root, contains="Attached big.csv", timeout=30)
        await settle(stack)
        (file_id,) = foundry.state.files
        assert foundry.stored_file_sha256(file_id) == hashlib.sha256(ROWS * (8 * MiB // len(ROWS))).hexdigest()
        tries = [(r.status, r.body_size >= 8 * MiB) for r in foundry.requests if r.route == "files.create"]
        assert tries == [(500, True), (200, True)]  # the failed try sent the whole file
        assert len(slack.download_requests) == 2
        assert not any("Skipped" in t for t in bot_texts(slack, channel, root))


async def test_large_file_passed_on_whose_upload_is_dropped_is_fetched_again(stack: Stack) -> None:
    """Foundry drops the connection of the streamed upload: nothing was kept, the file is fetched again and sent."""
    stack.foundry.faults.add(Fault(route="files.create", kind="drop", count=1))
    channel, root = await drop(stack, [FileUpload("big.csv", size=16 * MiB, pattern=ROWS)])
    await stack.slack.wait_for_reply(channel, root, contains="Attached big.csv", timeout=30)
    await settle(stack)
    (file_id,) = stack.foundry.state.files
    assert stack.foundry.stored_file_sha256(file_id) == hashlib.sha256(ROWS * (16 * MiB // len(ROWS))).hexdigest()
    assert len(stack.slack.download_requests) == 2
