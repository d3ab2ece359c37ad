"""The request log: one record per API request, filled in as the request is handled.

The record is attached to the request as soon as it arrives, so handlers fill in the body
they read right away; a test that stops reading a stream early still sees what was sent.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

_SECRET_HEADERS = frozenset({"authorization", "x-identity-header"})


@dataclass
class RecordedRequest:
    """One request as the emulator saw it; secrets in headers are redacted."""

    method: str
    path: str
    #: The public route name (``responses.create``…); None for paths that matched no route.
    route: str | None
    query: dict[str, str]
    headers: dict[str, str]
    body_size: int = 0
    #: The JSON body as sent, for JSON requests (None for uploads, GETs and unreadable bodies).
    body: dict[str, Any] | None = None
    #: The HTTP status answered; None while in flight or when the connection was dropped.
    status: int | None = None
    request_id: str = ""
    #: Bytes of the body that had arrived when the request was answered or cut off; None before
    #: (``body_size`` is what the request announced, or what a handler read of it).
    body_received: int | None = None

    @classmethod
    def of(cls, request: web.Request, route: str | None, request_id: str) -> RecordedRequest:
        headers = {k: ("<redacted>" if k.lower() in _SECRET_HEADERS else v) for k, v in request.headers.items()}
        return cls(
            request.method,
            request.path,
            route,
            dict(request.query),
            headers,
            body_size=request.content_length or 0,
            request_id=request_id,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


#: The record of the request being handled.
RECORD = web.RequestKey("foundry_record", RecordedRequest)


def note_body(request: web.Request, size: int, body: dict[str, Any] | None = None) -> None:
    """Record how much body a handler read, and the JSON it held."""
    record = request.get(RECORD)
    if record is not None:
        record.body_size = size
        if body is not None:
            record.body = copy.deepcopy(body)


def request_id_of(request: web.Request) -> str:
    """The id this request's response carries in ``x-request-id``."""
    record = request.get(RECORD)
    return record.request_id if record is not None else ""
