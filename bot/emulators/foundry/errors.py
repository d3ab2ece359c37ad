"""The Foundry error body, raised as one exception type and rendered in one place.

Handlers raise :class:`ApiError`; the middleware turns it into
``{"error": {"code", "message", "param", "type", "details": [], "additionalInfo": {"request_id"}}}``,
the shape Foundry returns (including a real ``invalid_payload`` sample).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from aiohttp import web

_DEFAULT_CODES: Mapping[int, str] = MappingProxyType(
    {
        400: "invalid_request_error",
        401: "Unauthorized",
        403: "PermissionDenied",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "content_size_exceeded",
        429: "rate_limit_exceeded",
        500: "server_error",
        502: "bad_gateway",
        503: "service_unavailable",
        504: "timeout",
    }
)


def default_code(status: int) -> str:
    """A plausible error code for a status when the caller names none."""
    return _DEFAULT_CODES.get(status, "server_error" if status >= 500 else "invalid_request_error")


def error_type(status: int) -> str:
    """The ``type`` field: Foundry and OpenAI use ``invalid_request_error`` for every 4xx."""
    if status == 429:
        return "rate_limit_error"
    if status in (401, 403):
        return "authentication_error"
    return "invalid_request_error" if status < 500 else "server_error"


class ApiError(Exception):
    """An HTTP error answered with the Foundry error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or default_code(status)
        self.param = param
        self.headers = dict(headers or {})

    def to_response(self, request_id: str) -> web.Response:
        """Render the error as the JSON body Foundry sends."""
        body: dict[str, object] = {
            "error": {
                "code": self.code,
                "message": self.message,
                "param": self.param,
                "type": error_type(self.status),
                "details": [],
                "additionalInfo": {"request_id": request_id},
            }
        }
        return web.json_response(body, status=self.status, headers=self.headers)


def bad_request(message: str, *, param: str | None = None, code: str = "invalid_payload") -> ApiError:
    """A 400 for a body or query the service would refuse."""
    return ApiError(400, message, code=code, param=param)


def not_found(kind: str, ident: str, *, param: str | None = None) -> ApiError:
    """A 404 naming the missing resource the way OpenAI-style services word it."""
    return ApiError(404, f"{kind} with id '{ident}' not found.", param=param)
