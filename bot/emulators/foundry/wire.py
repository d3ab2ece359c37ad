"""Small helpers for reading and checking request bodies the way the service does."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.emulators.foundry.errors import bad_request
from bot.emulators.foundry.recording import note_body
from bot.emulators.foundry.state import Json

MAX_METADATA_PAIRS = 16


async def read_json(request: web.Request, *, optional: bool = False) -> Json:
    """The request's JSON object body (``{}`` when ``optional`` and empty); 400 otherwise."""
    raw = await request.read()
    note_body(request, len(raw))
    if not raw.strip():
        if optional:
            return {}
        raise bad_request("The request body must be a JSON object.")
    try:
        body = json.loads(raw)
    except ValueError:
        raise bad_request("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    note_body(request, len(raw), body)
    return body


def metadata(value: Any, param: str = "metadata") -> dict[str, str]:
    """Validate a metadata map: at most 16 pairs, keys up to 64 and values up to 512 characters."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise bad_request("metadata must be an object of string values.", param=param)
    if len(value) > MAX_METADATA_PAIRS:
        raise bad_request(f"metadata may hold at most {MAX_METADATA_PAIRS} pairs.", param=param)
    for key, item in value.items():
        if len(key) > 64 or len(item) > 512:
            raise bad_request("metadata keys are limited to 64 and values to 512 characters.", param=f"{param}.{key}")
    return dict(value)


def optional_str(body: Json, key: str, *, max_length: int | None = None) -> str | None:
    """A string field that may be absent or null."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"{key} must be a string.", param=key)
    if max_length is not None and len(value) > max_length:
        raise bad_request(f"{key} may be at most {max_length} characters.", param=key)
    return value


def ok(data: Json) -> web.Response:
    """A 200 JSON response."""
    return web.json_response(data)
