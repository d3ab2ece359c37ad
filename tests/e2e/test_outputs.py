"""Charts and generated files come back into the thread, or the thread is told why not."""

from __future__ import annotations

from pathlib import Path

from bot.emulators.foundry import Fault, FoundryEmulator
from bot.emulators.slack import FileUpload, SlackEmulator
from bot.files.names import safe_name
from bot.outputs.code import SHOW_CODE_ACTION

from .harness import Stack, bot_texts, running_bot

DATA = Path(__file__).parents[1] / "data"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TWO_FILES = "```python\nopen('/mnt/data/a.csv', 'w').write('x\\n1\\n')\nopen('/mnt/data/b.txt', 'w').write('hi')\n```"
OTHER_FILES = "```python\nopen('/mnt/data/a.csv', 'w').write('y\\n2\\n')\nopen('/mnt/data/b.txt', 'w').write('us')\n```"


def posted_files(slack: SlackEmulator, channel: object, root_ts: str) -> dict[str, bytes]:
    """Files the bot shared in the thread: name → bytes, as people in the thread can open them."""
    found: dict[str, bytes] = {}
    for message in slack.thread(channel, root_ts):
        for file_id in message.files or []:
            stored = slack.core.files.get(file_id)
            if message.user == slack.bot.id and stored is not None:
                found[stored.name] = stored.path.read_bytes()
    return found


async def ask(stack: Stack, text: str, files: list[FileUpload] | None = None) -> tuple[object, str]:
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> {text}", files=files)
    return general, root.ts


async def done(stack: Stack, channel: object, root: str) -> None:
    await stack.slack.wait_for_reply(channel, root, contains="Done in", after=root, timeout=30)
    await stack.slack.settle()
    await stack.services.scheduler.wait_idle()


async def test_plot_request_puts_the_png_in_the_thread(stack: Stack) -> None:
    """A plot request posts the chart into the thread: the same bytes as the sandbox's file, share confirmed."""
    csv = FileUpload("sales.csv", path=DATA / "valid" / "sales.csv")
    channel, root = await ask(stack, "plot revenue by month", [csv])
    await done(stack, channel, root)
    posted = posted_files(stack.slack, channel, root)
    assert list(posted) == ["sales_chart.png"]
    assert posted["sales_chart.png"].startswith(PNG_MAGIC)
    container = next(iter(stack.foundry.state.containers.values()))
    chart = next(f for f in container.files.values() if f.name == "sales_chart.png")
    assert (container.data_dir / chart.name).read_bytes() == posted["sales_chart.png"]
    message = next(m for m in stack.slack.thread(channel, root) if m.files and m.user == stack.slack.bot.id)
    assert message.thread_ts == root
    slack_file = stack.slack.file_info(message.files[0])
    assert any(channel_id for kind in ("public", "private") for channel_id in (slack_file["shares"].get(kind) or {}))
    assert not any("sandbox:" in t for t in bot_texts(stack.slack, channel, root))


async def test_several_files_from_one_turn_are_all_posted(stack: Stack) -> None:
    """Every file a run writes arrives in the thread."""
    channel, root = await ask(stack, TWO_FILES)
    await done(stack, channel, root)
    assert posted_files(stack.slack, channel, root) == {"a.csv": b"x\n1\n", "b.txt": b"hi"}


async def test_file_cited_twice_is_posted_once(stack: Stack) -> None:
    """Two citations of one file give one upload."""
    channel, root = await ask(stack, "[cite: twice] " + TWO_FILES)
    await done(stack, channel, root)
    assert sorted(posted_files(stack.slack, channel, root)) == ["a.csv", "b.txt"]
    assert len(stack.slack.api_calls("files.completeUploadExternal")) == 2


async def test_file_listed_but_not_cited_is_posted(stack: Stack) -> None:
    """A file the model wrote but never mentioned is found in the sandbox listing and posted."""
    channel, root = await ask(stack, "[cite: silent] " + TWO_FILES)
    await done(stack, channel, root)
    assert sorted(posted_files(stack.slack, channel, root)) == ["a.csv", "b.txt"]


async def test_download_failing_twice_with_500_is_retried(stack: Stack) -> None:
    """Two 500s from the sandbox's file endpoint, then success: the file is posted."""
    stack.foundry.faults.add(Fault(route="containers.files.content", kind="status", status=500, count=2))
    channel, root = await ask(stack, "```python\nopen('/mnt/data/out.txt', 'w').write('ok')\n```")
    await done(stack, channel, root)
    assert posted_files(stack.slack, channel, root) == {"out.txt": b"ok"}


async def test_expired_container_gives_the_per_file_message(stack: Stack) -> None:
    """When the sandbox is gone before its file is fetched, the thread is told about that file."""
    stack.foundry.faults.add(
        Fault(route="containers.files.content", kind="status", status=404, count=50, message="Container is expired.")
    )
    channel, root = await ask(stack, "```python\nopen('/mnt/data/chart.png', 'wb').write(b'x')\n```")
    await done(stack, channel, root)
    texts = bot_texts(stack.slack, channel, root)
    assert any("chart.png could not be fetched from the sandbox (it may have expired)" in t for t in texts)
    assert posted_files(stack.slack, channel, root) == {}


async def test_asking_for_a_file_when_none_comes_says_so(stack: Stack) -> None:
    """A request for a file that produces none gets the plain 'no file' notice."""
    channel, root = await ask(stack, "export it as an excel file please")
    await done(stack, channel, root)
    assert any("No file came back from the sandbox" in t for t in bot_texts(stack.slack, channel, root))


async def test_show_code_posts_exactly_the_code_that_ran(stack: Stack) -> None:
    """Pressing Show code posts the turn's code as a Python snippet in the thread."""
    code = "x = 6 * 7\nprint(x)\n"
    channel, root = await ask(stack, f"```python\n{code}```")
    await done(stack, channel, root)
    status = next(m for m in stack.slack.thread(channel, root) if m.user == stack.slack.bot.id and m.blocks)
    alice = next(u for u in stack.slack.core.workspace.users.values() if u.name == "alice")
    await stack.slack.press_button(alice, channel, status.ts, SHOW_CODE_ACTION)
    await stack.slack.wait_for(lambda: "code-turn-1.py" in posted_files(stack.slack, channel, root), timeout=10)
    ran = [r for r in stack.foundry.requests if r.route == "responses.create"]
    assert len(ran) == 1
    assert posted_files(stack.slack, channel, root)["code-turn-1.py"].decode() == code


async def test_slack_upload_429_is_retried(stack: Stack) -> None:
    """Slack throttling the upload step is waited out and the file still arrives."""
    stack.slack.rate_limit("files.getUploadURLExternal", times=1, retry_after=1)
    channel, root = await ask(stack, "```python\nopen('/mnt/data/out.txt', 'w').write('ok')\n```")
    await done(stack, channel, root)
    assert posted_files(stack.slack, channel, root) == {"out.txt": b"ok"}
    calls = stack.slack.api_calls("files.getUploadURLExternal")
    assert [c.status for c in calls] == [429, 200]


async def test_files_past_the_cap_are_named_not_posted(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """With MAX_OUTPUT_FILES=1, one file is posted and the thread is told which were left out."""
    slack, foundry = pair
    async with running_bot(slack, foundry, tmp_path / "bot.db", max_output_files=1) as stack:
        channel, root = await ask(stack, TWO_FILES)
        await done(stack, channel, root)
        assert list(posted_files(slack, channel, root)) == ["a.csv"]
        assert any("Left out: b.txt" in t for t in bot_texts(slack, channel, root))


async def test_show_code_always_posts_the_code_with_the_answer(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """SHOW_CODE=always posts the snippet without anyone pressing the button."""
    slack, foundry = pair
    async with running_bot(slack, foundry, tmp_path / "bot.db", show_code="always") as stack:
        channel, root = await ask(stack, "```python\nprint('shown')\n```")
        await done(stack, channel, root)
        assert posted_files(slack, channel, root) == {"code-turn-1.py": b"print('shown')\n"}


async def test_slack_refusing_the_upload_is_explained(stack: Stack) -> None:
    """A workspace that blocks the file type gets a plain sentence naming the file."""
    stack.slack.fail("files.completeUploadExternal", "file_type_not_allowed", times=5)
    channel, root = await ask(stack, "```python\nopen('/mnt/data/out.txt', 'w').write('ok')\n```")
    await done(stack, channel, root)
    texts = bot_texts(stack.slack, channel, root)
    assert any("doesn't allow this type of file, so I couldn't post out.txt" in t for t in texts)


async def test_a_citation_of_another_threads_file_is_not_followed(stack: Stack) -> None:
    """A citation naming a file in another thread's sandbox is not followed: that sandbox is never
    listed or read, this thread gets its own files and a word about the one it didn't get."""
    slack = stack.slack
    alice, bob = slack.add_user("alice"), slack.add_user("bob")
    theirs = slack.add_channel("finance", members=[alice])
    first = await slack.post_message(alice, theirs, f"<@{slack.bot.id}> {TWO_FILES}")
    await done(stack, theirs, first.ts)
    (their_container,) = stack.foundry.state.containers.values()
    secret = next(f for f in their_container.files.values() if f.name == "b.txt")
    requests_before = len(stack.foundry.requests)

    ours = slack.add_channel("general", members=[bob])
    ask_bob = f"<@{slack.bot.id}> [cite: {their_container.id}/{secret.id}] {OTHER_FILES}"
    second = await slack.post_message(bob, ours, ask_bob)
    await done(stack, ours, second.ts)

    assert posted_files(slack, ours, second.ts) == {"a.csv": b"y\n2\n", "b.txt": b"us"}  # its own files only
    later = stack.foundry.requests[requests_before:]
    assert [r for r in later if r.route and r.route.startswith("containers.") and their_container.id in r.path] == []
    texts = bot_texts(slack, ours, second.ts)
    assert any(f"I didn't attach {safe_name(secret.id + '.png')}:" in t for t in texts)
