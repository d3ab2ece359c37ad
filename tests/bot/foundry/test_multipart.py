"""The streamed multipart body, read back by an independent multipart parser."""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
from collections.abc import AsyncIterator

import pytest

from bot.errors import FoundryError
from bot.foundry.multipart import StreamedMultipart


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def framed(form: StreamedMultipart) -> bytes:
    return b"".join([chunk async for chunk in form.body()])


def parse(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Parse with the standard library's MIME parser: name → (filename, payload)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        parts[part.get_param("name", header="content-disposition")] = (
            part.get_filename(),
            part.get_payload(decode=True),
        )
    return parts


async def test_body_round_trips_fields_and_file() -> None:
    """A standard parser finds the purpose field and the exact file bytes."""
    data = bytes(range(256)) * 100
    form = StreamedMultipart(
        {"purpose": "assistants"}, file_field="file", filename="a.bin", chunks=pieces(data, 999), size=len(data)
    )
    body = await framed(form)
    assert len(body) == form.content_length
    parts = parse(form.content_type, body)
    assert parts["purpose"] == (None, b"assistants")
    assert parts["file"] == ("a.bin", data)


async def test_unknown_size_has_no_content_length() -> None:
    """Without a size the body is sent chunked, so no Content-Length header is promised."""
    form = StreamedMultipart({}, file_field="file", filename="a", chunks=pieces(b"x", 1))
    assert "Content-Length" not in form.headers()


async def test_quotes_and_newlines_in_file_names_cannot_break_the_header() -> None:
    """A hostile file name cannot inject headers or parts."""
    form = StreamedMultipart(
        {}, file_field="file", filename='evil"\r\nX-Injected: 1.csv', chunks=pieces(b"a,b\n", 10), size=4
    )
    body = await framed(form)
    assert b"X-Injected: 1" not in body.split(b"\r\n\r\n")[0].split(b"\r\n")[2:]
    assert parse(form.content_type, body)["file"][1] == b"a,b\n"


async def test_short_stream_is_an_error() -> None:
    """A stream that ends before the announced size raises rather than uploading a truncated file."""
    form = StreamedMultipart({}, file_field="file", filename="a", chunks=pieces(b"abc", 1), size=10)
    with pytest.raises(FoundryError):
        await framed(form)


async def test_nothing_of_the_body_goes_before_the_files_first_chunk() -> None:
    """Until the file's bytes come, the body yields nothing: not the fields, not the file's name."""
    go = asyncio.Event()

    async def waiting() -> AsyncIterator[bytes]:
        await go.wait()
        yield b"abc"

    form = StreamedMultipart({"purpose": "assistants"}, file_field="file", filename="x.csv", chunks=waiting(), size=3)
    body = form.body()
    first = asyncio.ensure_future(anext(body))
    await asyncio.sleep(0.05)
    assert not first.done()
    go.set()
    assert b'filename="x.csv"' in await asyncio.wait_for(first, 5)
    rest = [chunk async for chunk in body]
    assert parse(form.content_type, (await first) + b"".join(rest))["file"] == ("x.csv", b"abc")


async def test_an_empty_file_is_still_framed() -> None:
    form = StreamedMultipart(
        {"purpose": "assistants"}, file_field="file", filename="e.txt", chunks=pieces(b"", 1), size=0
    )
    assert parse(form.content_type, await framed(form))["file"] == ("e.txt", b"")
