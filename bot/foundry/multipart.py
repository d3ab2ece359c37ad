"""A ``multipart/form-data`` body streamed from an async byte iterator.

httpx builds multipart bodies from whole files or sync file objects; a Slack download is an
async stream of unknown length, so we frame it ourselves and never hold more than one chunk.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping

from bot.errors import FoundryError


class StreamedMultipart:
    """Form fields followed by one file part whose bytes come from ``chunks``."""

    def __init__(
        self,
        fields: Mapping[str, str],
        *,
        file_field: str,
        filename: str,
        chunks: AsyncIterator[bytes],
        content_type: str = "application/octet-stream",
        size: int | None = None,
    ) -> None:
        self.boundary = secrets.token_hex(16)
        self._chunks = chunks
        self._size = size
        self._filename = filename
        head = b"".join(self._field(name, value) for name, value in fields.items())
        head += (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{file_field}"; filename="{_quote(filename)}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        self._head = head
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header value, boundary included."""
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def content_length(self) -> int | None:
        """The exact body length when the file size is known in advance, else None (chunked)."""
        return None if self._size is None else len(self._head) + self._size + len(self._tail)

    def headers(self) -> dict[str, str]:
        """Headers that describe this body."""
        headers = {"Content-Type": self.content_type}
        if self.content_length is not None:
            headers["Content-Length"] = str(self.content_length)
        return headers

    async def body(self) -> AsyncIterator[bytes]:
        """The framed body, one chunk at a time; checks the promised size if one was given.

        The form fields and the file part's header go out with the file's first chunk, not
        before: until ``chunks`` yields, nothing of the body (not the file's name either) is sent.
        """
        head = self._head
        sent = 0
        async for chunk in self._chunks:
            if chunk:
                if head:
                    yield head
                    head = b""
                sent += len(chunk)
                yield chunk
        if head:  # an empty file
            yield head
        if self._size is not None and sent != self._size:
            raise FoundryError(f"upload of {self._filename!r}: got {sent} bytes, {self._size} were announced")
        yield self._tail

    def _field(self, name: str, value: str) -> bytes:
        return (f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n').encode()


def _quote(filename: str) -> str:
    """Keep a file name from breaking out of its header (quotes, line breaks)."""
    return "".join("_" if ch in '"\r\n\\' else ch for ch in filename)
