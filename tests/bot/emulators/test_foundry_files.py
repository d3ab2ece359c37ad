"""The Files API: multipart uploads spooled to disk, the size limit, purpose, delete."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.emulators.foundry import EmulatorConfig, FoundryEmulator


@pytest.fixture(name="config")
def _small_files() -> EmulatorConfig:
    """A project that accepts files of at most 4 KiB, so the limit is cheap to hit."""
    return EmulatorConfig(max_file_bytes=4096)


def multipart(boundary: str, filename: str, content: bytes, purpose: str = "assistants") -> list[bytes]:
    """A multipart body in pieces, the way a streaming client sends it."""
    return [
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n{purpose}\r\n'.encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'.encode(),
        b"Content-Type: application/octet-stream\r\n\r\n",
        *[content[i : i + 1000] for i in range(0, len(content), 1000)],
        f"\r\n--{boundary}--\r\n".encode(),
    ]


async def chunked(pieces: list[bytes]) -> AsyncIterator[bytes]:
    """The pieces as an async stream, which httpx sends with chunked transfer encoding."""
    for piece in pieces:
        yield piece


async def test_chunked_upload_without_length_is_stored_with_its_hash(
    http: httpx.AsyncClient, emulator: FoundryEmulator
) -> None:
    """A chunked upload without Content-Length is stored on disk whole, with its sha256."""
    content = secrets.token_bytes(3500)
    boundary = "emulatorboundary"
    response = await http.post(
        "/openai/v1/files",
        content=chunked(multipart(boundary, "blob.bin", content)),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["object"], body["bytes"], body["filename"], body["status"]) == ("file", 3500, "blob.bin", "processed")
    stored = emulator.state.files[body["id"]]
    assert content == stored.read_bytes()
    assert hashlib.sha256(content).hexdigest() == stored.sha256
    [sent] = [r for r in emulator.requests if r.route == "files.create"]
    assert "content-length" not in {k.lower() for k in sent.headers}
    assert sent.body_size == 3500
    assert sent.body_received == sum(len(piece) for piece in multipart(boundary, "blob.bin", content))


async def test_upload_cut_off_is_recorded_with_the_bytes_that_arrived(emulator: FoundryEmulator) -> None:
    """A client that announces a body, sends part of it and hangs up: no file, no answer, and the
    record says how much of the body arrived."""
    boundary = "emulatorboundary"
    body = b"".join(multipart(boundary, "blob.bin", b"x" * 3000))
    url = httpx.URL(emulator.endpoint)
    _, writer = await asyncio.open_connection(url.host, url.port)
    head = (
        f"POST {url.path.rstrip('/')}/openai/v1/files HTTP/1.1\r\nHost: {url.host}\r\n"
        f"Authorization: Bearer {emulator.issue_token()}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body[:700])
    await writer.drain()
    for _ in range(200):  # the handler has begun reading
        if any(r.route == "files.create" for r in emulator.requests):
            break
        await asyncio.sleep(0.01)
    writer.close()
    await writer.wait_closed()
    for _ in range(200):
        (sent,) = [r for r in emulator.requests if r.route == "files.create"]
        if sent.body_received:
            break
        await asyncio.sleep(0.01)
    assert (sent.status, sent.body_size, sent.body_received) == (None, len(body), 700)
    assert emulator.counters()["files"] == 0


async def test_file_over_the_limit_is_refused_and_nothing_is_kept(
    http: httpx.AsyncClient, emulator: FoundryEmulator
) -> None:
    """A file larger than max_file_bytes is a 400 file_size_exceeded and leaves no file behind."""
    response = await http.post(
        "/openai/v1/files", data={"purpose": "assistants"}, files={"file": ("big.csv", b"x" * 5000)}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "file_size_exceeded"
    assert emulator.counters()["files"] == 0
    assert list(emulator.state.uploads_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("data", "files", "param"),
    [
        ({"purpose": "fine-tune"}, {"file": ("a.csv", b"a")}, "purpose"),
        ({}, {"file": ("a.csv", b"a")}, "purpose"),
        ({"purpose": "assistants"}, {"other": ("a.csv", b"a")}, "file"),
    ],
    ids=["wrong-purpose", "no-purpose", "no-file"],
)
async def test_upload_needs_purpose_assistants_and_a_file(
    http: httpx.AsyncClient, data: dict[str, str], files: dict[str, tuple[str, bytes]], param: str
) -> None:
    """An upload without purpose=assistants or without a file part is a 400 naming the part."""
    response = await http.post("/openai/v1/files", data=data, files=files)
    assert (400, param) == (response.status_code, response.json()["error"]["param"])


async def test_path_in_a_filename_is_stripped(http: httpx.AsyncClient) -> None:
    """A client-supplied name with directories keeps only its last component."""
    response = await http.post(
        "/openai/v1/files", data={"purpose": "assistants"}, files={"file": ("../../etc/passwd.csv", b"a,b\n")}
    )
    assert response.json()["filename"] == "passwd.csv"


async def test_delete_file_then_404(http: httpx.AsyncClient, emulator: FoundryEmulator, data_dir: Path) -> None:
    """Deleting a file answers deleted:true, removes it from disk, and later reads are 404."""
    response = await http.post(
        "/openai/v1/files",
        data={"purpose": "assistants"},
        files={"file": ("notes.txt", (data_dir / "valid" / "notes.txt").read_bytes())},
    )
    file_id = response.json()["id"]
    path = emulator.state.files[file_id].path
    deleted = (await http.delete(f"/openai/v1/files/{file_id}")).json()
    assert deleted == {"id": file_id, "object": "file", "deleted": True}
    assert not path.exists()
    assert (await http.get(f"/openai/v1/files/{file_id}")).status_code == 404
    assert (await http.delete(f"/openai/v1/files/{file_id}")).status_code == 404
