"""File drops and downloads: the token check, the login page, the cross-host redirect, streaming."""

from __future__ import annotations

import asyncio
import hashlib

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.emulators.slack import FileUpload, SlackEmulator

# The *_fixture imports register pytest fixtures (by their name=), hence unused.
from tests.bot.emulators.conftest_slack import (  # noqa: F401
    Recorder,
    World,
    client_fixture,
    recorder_fixture,
    slack_fixture,
    world_fixture,
)


def auth(slack: SlackEmulator) -> dict[str, str]:
    """The header a bot sends to download files."""
    return {"Authorization": f"Bearer {slack.bot_token}"}


async def test_file_drop_event_carries_file_object(recorder: Recorder, world: World) -> None:
    """A file drop is a signed message/file_share event whose file URLs point at the emulator."""
    slack = world.slack
    await slack.post_message(world.alice, world.general, "numbers", files=[FileUpload("sales.csv", content=b"a,b\n")])
    await slack.settle()
    (event,) = recorder.events("message")
    assert recorder.received[0].signature_ok
    assert (event["subtype"], event["channel_type"], event["user"]) == ("file_share", "channel", world.alice.id)
    (file,) = event["files"]
    assert file["id"].startswith("F")
    assert (file["name"], file["mimetype"], file["filetype"], file["size"]) == ("sales.csv", "text/csv", "csv", 4)
    assert file["url_private_download"].startswith(slack.base_url + "/files-pri/")
    assert file["shares"]["public"][world.general.id][0]["ts"] == event["ts"]


async def test_slack_connect_stub_and_empty_types(recorder: Recorder, client: AsyncWebClient, world: World) -> None:
    """check_file_info sends only a stub in the event; files.info then has the (empty) types."""
    slack = world.slack
    upload = FileUpload("scan.pdf", content=b"%PDF-1.7", mimetype="", filetype="", check_file_info=True)
    await slack.post_message(world.alice, world.general, "", files=[upload])
    await slack.settle()
    (stub,) = recorder.events("message")[0]["files"]
    assert stub["file_access"] == "check_file_info"
    assert "url_private" not in stub
    info = await client.files_info(file=stub["id"])
    assert (info["file"]["mimetype"], info["file"]["filetype"], info["file"]["name"]) == ("", "", "scan.pdf")


async def test_download_needs_the_bot_token(world: World) -> None:
    """With the bot token the bytes come back; without it (or with another) a 200 HTML login page."""
    slack = world.slack
    message = await slack.post_message(world.alice, world.general, "", files=[FileUpload("a.txt", content=b"hello")])
    url = slack.file_info(message.files[0])["url_private_download"]
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=auth(slack)) as good:
            assert (good.status, await good.read(), good.content_type) == (200, b"hello", "text/plain")
        async with http.get(url) as anonymous:
            assert (anonymous.status, anonymous.content_type) == (200, "text/html")
            assert "Sign in" in await anonymous.text()
        async with http.get(url, headers={"Authorization": "Bearer xoxb-other"}) as wrong:
            assert wrong.content_type == "text/html"
    assert [(r.had_authorization, r.token_valid, r.outcome) for r in slack.download_requests] == [
        (True, True, "file"),
        (False, False, "login_page"),
        (True, False, "login_page"),
    ]


async def test_cross_host_redirect_drops_token_unless_re_added(world: World) -> None:
    """aiohttp drops Authorization on the 302 to the CDN host (login page); re-adding it gets the file."""
    slack = world.slack
    slack.redirect_downloads()
    message = await slack.post_message(world.alice, world.general, "", files=[FileUpload("b.csv", content=b"1,2\n")])
    url = slack.file_info(message.files[0])["url_private_download"]
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=auth(slack)) as followed:
            assert followed.content_type == "text/html"
        async with http.get(url, headers=auth(slack), allow_redirects=False) as first:
            assert first.status == 302
            location = first.headers["Location"]
        assert location.startswith(slack.cdn_url)
        async with http.get(location, headers=auth(slack)) as second:
            assert await second.read() == b"1,2\n"
    assert [(r.host, r.had_authorization, r.outcome) for r in slack.download_requests] == [
        ("primary", True, "redirect"),
        ("cdn", False, "login_page"),
        ("primary", True, "redirect"),
        ("cdn", True, "file"),
    ]


async def test_large_generated_file_streams_in_chunks(world: World) -> None:
    """A 48 MiB generated file downloads intact, read chunk by chunk on both sides."""
    slack = world.slack
    size, pattern = 48 * 1024 * 1024, b"2024-01-01,42.0,widget\n"
    message = await slack.post_message(
        world.alice, world.general, "", files=[FileUpload("big.csv", size=size, pattern=pattern)]
    )
    url = slack.file_info(message.files[0])["url_private_download"]
    expected = hashlib.sha256()
    block = (pattern * (1024 * 1024 // len(pattern) + 1))[: 1024 * 1024]
    for _ in range(size // len(block)):
        expected.update(block)
    received, got = 0, hashlib.sha256()
    async with aiohttp.ClientSession() as http, http.get(url, headers=auth(slack)) as response:
        async for chunk in response.content.iter_chunked(1024 * 1024):
            received += len(chunk)
            got.update(chunk)
    assert (received, got.hexdigest()) == (size, expected.hexdigest())


async def test_stalled_download_holds_its_rest_until_resumed(world: World) -> None:
    """stall_downloads(n): the first n bytes come at once, the rest only after resume_downloads()."""
    slack = world.slack
    content = bytes(range(256)) * 2048  # 512 KiB
    message = await slack.post_message(world.alice, world.general, "", files=[FileUpload("a.zip", content=content)])
    url = slack.file_info(message.files[0])["url_private_download"]
    slack.stall_downloads(300_000)
    async with aiohttp.ClientSession() as http, http.get(url, headers=auth(slack)) as response:
        assert response.content_length == len(content)
        first = await response.content.readexactly(300_000)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(response.content.readexactly(1), 0.2)
        slack.resume_downloads()
        rest = await response.content.read()
    assert first + rest == content


async def test_upload_url_accepts_multipart(client: AsyncWebClient, world: World) -> None:
    """Step 2 also takes multipart form data, without a token, and answers OK - <n>."""
    step1 = await client.files_getUploadURLExternal(filename="m.txt", length=3)
    form = aiohttp.FormData()
    form.add_field("file", b"abc", filename="m.txt")
    async with aiohttp.ClientSession() as http, http.post(step1["upload_url"], data=form) as response:
        assert (response.status, await response.text()) == (200, "OK - 3")
    done = await client.files_completeUploadExternal(files=[{"id": step1["file_id"]}], channel_id=world.general.id)
    assert done["files"][0]["size"] == 3
    assert world.slack.timeline(world.general)[-1].files == [step1["file_id"]]
