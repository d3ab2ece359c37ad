"""Turn Foundry's HTTP failures into the bot's typed errors, at the boundary.

Foundry answers errors as ``{"error": {"code", "message", "param", "type", "additionalInfo":
{"request_id"}}}``. The detail (status, code, request id) goes to the logs through ``str(exc)``;
the person in Slack only ever sees the error class's ``user_message``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.errors import (
    ContainerExpired,
    FoundryAuthError,
    FoundryBadRequest,
    FoundryError,
    FoundryNotFound,
    FoundryRateLimited,
    FoundryUnavailable,
    ToolNotAvailable,
)

_CONTAINER_GONE = ("container is expired", "expected container_id", "container not found", "not found on container")
_TOOL_MISSING = ("tool_not_supported", "unsupported_tool", "tool_not_enabled")

#: Plain sentences for the documented limit errors.
_CODE_MESSAGES = {
    "file_size_exceeded": "That file is larger than Microsoft Foundry's 512 MB limit.",
    "token_limit_exceeded": "This thread has grown past the model's limit. Start a new thread to go on.",
    "message_limit_exceeded": "This thread has too many messages for Microsoft Foundry. Start a new thread.",
    "content_size_exceeded": "That message is too long for Microsoft Foundry. Try a shorter one.",
}


def error_body(content: bytes) -> dict[str, Any]:
    """The ``error`` object of a Foundry error response, or ``{}`` when there is none."""
    try:
        parsed = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return {}
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, dict) else {}


def from_status(
    status: int, content: bytes, headers: Mapping[str, str], *, what: str, retry_after: float | None = None
) -> FoundryError:
    """The typed error for an HTTP error status from the operation named ``what``."""
    error = error_body(content)
    code = _text(error.get("code"))
    message = _text(error.get("message")) or ""
    info = error.get("additionalInfo")
    request_id = (_text(info.get("request_id")) if isinstance(info, dict) else None) or headers.get("x-request-id")
    detail = f"{what}: HTTP {status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    if request_id:
        detail += f" (request id {request_id})"
    kwargs: dict[str, Any] = {"status": status, "code": code, "request_id": request_id}
    lowered = message.lower()
    if status in (401, 403):
        return _auth_error(detail, status, kwargs)
    if any(marker in lowered for marker in _CONTAINER_GONE):
        return ContainerExpired(detail, **kwargs)
    if status == 404:
        return FoundryNotFound(detail, **kwargs)
    if status == 429:
        return FoundryRateLimited(detail, retry_after=retry_after, **kwargs)
    if status == 408 or status >= 500:
        return FoundryUnavailable(detail, **kwargs)
    if code in _TOOL_MISSING or ("code_interpreter" in lowered and "not supported" in lowered):
        return ToolNotAvailable(detail, **kwargs)
    if 400 <= status < 500:
        return FoundryBadRequest(detail, user_message=_CODE_MESSAGES.get(code or ""), **kwargs)
    return FoundryError(detail, **kwargs)


def _auth_error(detail: str, status: int, kwargs: dict[str, Any]) -> FoundryAuthError:
    hint = (
        " The token was refused: check the credential."
        if status == 401
        else ' The identity lacks access: grant it the "Azure AI User" role on the Foundry project.'
    )
    return FoundryAuthError(detail + "." + hint, **kwargs)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
