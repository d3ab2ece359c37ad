"""The Web API front door: parameters, tokens, scopes, injected faults, and the record of calls.

Slack accepts arguments as query strings (what slack_sdk's AsyncWebClient sends for "params"
methods, even on POST), form bodies and JSON bodies; this module merges them all, checks the
token the way Slack does, and turns :class:`ApiError` into ``{"ok": false, "error": …}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from .config import EmulatorConfig
from .records import ApiCall, Notifier
from .workspace import Workspace, WorkspaceError

JSON = dict[str, Any]
Handler = Callable[["ApiRequest"], Awaitable[JSON]]
TokenKind = Literal["bot", "app", "none", "other"]


class ApiError(Exception):
    """A Slack error answer: ``error`` code plus optional extra fields and HTTP status."""

    def __init__(
        self, error: str, *, status: int = 200, extra: JSON | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra or {}
        self.headers = headers or {}


@dataclass
class ApiRequest:
    """One call's merged arguments, with typed accessors that fail like Slack does."""

    method: str
    params: JSON
    http_method: str

    def arg(self, name: str) -> str | None:
        """A scalar argument as text, or None when absent or empty."""
        value = self.params.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)

    def require(self, name: str, error: str = "invalid_arguments") -> str:
        """A mandatory argument; ``error`` when missing."""
        value = self.arg(name)
        if value is None:
            raise ApiError(error)
        return value

    def flag(self, name: str) -> bool:
        """A boolean argument (``true``/``1``)."""
        value = self.params.get(name)
        return value is True or (isinstance(value, str | int) and str(value).lower() in {"1", "true"})

    def structured(self, name: str, error: str = "invalid_arguments") -> Any:
        """A JSON argument, given either as JSON text (form/query) or inline (JSON body)."""
        value = self.params.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise ApiError(error) from None
        return value


@dataclass(frozen=True)
class Method:
    """How one API method is served: handler, accepted scopes (any of), token type."""

    handler: Handler
    scopes: tuple[str, ...] = ()
    auth: Literal["bot", "app"] = "bot"


@dataclass
class Fault:
    """An injected failure for the next ``remaining`` calls of a method."""

    error: str
    status: int
    retry_after: int | None
    remaining: int


class WebApi:
    """Routes ``/api/<method>`` to registered handlers and records every call."""

    def __init__(self, config: EmulatorConfig, workspace: Workspace, notifier: Notifier) -> None:
        self.config = config
        self.workspace = workspace
        self._notifier = notifier
        self.methods: dict[str, Method] = {}
        self.calls: list[ApiCall] = []
        self.faults: dict[str, list[Fault]] = {}
        #: Granted bot scopes; tests may remove some to see ``missing_scope``.
        self.scopes: set[str] = set(config.scopes)

    def register(self, name: str, handler: Handler, *scopes: str, auth: Literal["bot", "app"] = "bot") -> None:
        """Serve ``name`` with ``handler``; ``auth`` is the token type it takes, bot ones need a scope."""
        self.methods[name] = Method(handler, scopes, auth)

    def inject(
        self, method: str, error: str, *, status: int = 200, retry_after: int | None = None, times: int = 1
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``error``."""
        self.faults.setdefault(method, []).append(Fault(error, status, retry_after, times))

    def token_kind(self, token: str | None) -> TokenKind:
        """Classify a token by its prefix."""
        if not token:
            return "none"
        return "bot" if token.startswith("xoxb-") else "app" if token.startswith("xapp-") else "other"

    def bot_token_valid(self, token: str | None) -> bool:
        """Whether ``token`` is the installed bot's, and the app is still installed."""
        return token == self.config.bot_token and self.workspace.installed

    async def handle(self, request: web.Request) -> web.Response:
        """Answer one Web API request."""
        name = request.match_info["method"]
        headers: dict[str, str] = {}
        try:
            params = await _read_params(request)
        except ValueError:
            params = dict(request.query)
            token = _bearer(request.headers.get("Authorization")) or _pop_str(params, "token")
            status, body = 200, {"ok": False, "error": "invalid_json"}
        else:
            token = _bearer(request.headers.get("Authorization")) or _pop_str(params, "token")
            status, body, headers = await self._answer(name, params, token, request.method)
        valid = token in {self.config.bot_token, self.config.app_token} and self.workspace.installed
        self.calls.append(
            ApiCall(
                method=name,
                params=params,
                http_method=request.method,
                token_kind=self.token_kind(token),
                token_valid=valid,
                status=status,
                ok=bool(body.get("ok")),
                error=_error_of(body),
                at=self.workspace.config.clock(),
            )
        )
        self._notifier.notify()
        return web.json_response(body, status=status, headers=headers)

    async def _answer(
        self, name: str, params: JSON, token: str | None, http_method: str
    ) -> tuple[int, JSON, dict[str, str]]:
        method = self.methods.get(name)
        if method is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        headers: dict[str, str] = {}
        try:
            self._authorize(method, token)
            if method.auth == "bot":
                headers["x-oauth-scopes"] = ",".join(sorted(self.scopes))
                headers["x-accepted-oauth-scopes"] = ",".join(method.scopes)
            self._check_scope(method)
            self._fire_fault(name)
            result = await method.handler(ApiRequest(name, params, http_method))
        except ApiError as exc:
            headers.update(exc.headers)
            return exc.status, {"ok": False, "error": exc.error, **exc.extra}, headers
        except WorkspaceError as exc:
            return 200, {"ok": False, "error": exc.error}, headers
        return 200, {"ok": True, **result}, headers

    def _authorize(self, method: Method, token: str | None) -> None:
        if not token:
            raise ApiError("not_authed")
        expected = self.config.bot_token if method.auth == "bot" else self.config.app_token
        other = self.config.app_token if method.auth == "bot" else self.config.bot_token
        if token == other:
            raise ApiError("not_allowed_token_type")
        if token != expected:
            raise ApiError("invalid_auth")
        if not self.workspace.installed:
            raise ApiError("token_revoked")

    def _check_scope(self, method: Method) -> None:
        if method.auth == "bot" and method.scopes and not self.scopes.intersection(method.scopes):
            self._missing(method.scopes[0])

    def require_scope(self, scope: str) -> None:
        """For handlers whose scope depends on the channel type (history, read)."""
        if scope not in self.scopes:
            self._missing(scope)

    def _missing(self, scope: str) -> None:
        raise ApiError("missing_scope", extra={"needed": scope, "provided": ",".join(sorted(self.scopes))})

    def _fire_fault(self, name: str) -> None:
        queue = self.faults.get(name)
        if not queue:
            return
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.pop(0)
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        raise ApiError(fault.error, status=fault.status, headers=headers)


def _error_of(body: JSON) -> str | None:
    error = body.get("error")
    return error if isinstance(error, str) else None


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def _pop_str(params: JSON, name: str) -> str | None:
    value = params.pop(name, None)
    return value if isinstance(value, str) and value else None


async def _read_params(request: web.Request) -> JSON:
    params: JSON = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return params
    if request.content_type == "application/json":
        body = await request.json()  # ValueError on bad JSON: the caller answers invalid_json
        if isinstance(body, dict):
            params.update(body)
    elif request.content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params
