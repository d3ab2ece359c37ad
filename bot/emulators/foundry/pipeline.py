"""What happens to every request before and after its handler.

In order: record it, let due containers expire, apply an injected transport fault, check the
bearer token (the identity endpoint has its own check), require ``api-version=v1`` on the
agents API, run the handler, and render any :class:`ApiError` as the Foundry error body.
The control routes under ``/_emulator/`` skip all of that but answer loopback callers only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute

from bot.emulators.foundry.auth import TokenIssuer
from bot.emulators.foundry.errors import ApiError, default_code
from bot.emulators.foundry.faults import TRANSPORT_KINDS, Fault, FaultRegistry
from bot.emulators.foundry.ids import request_id
from bot.emulators.foundry.recording import RECORD, RecordedRequest, note_body
from bot.emulators.foundry.routing import Handler

log = logging.getLogger(__name__)
CONTROL_PREFIX = "/_emulator/"
IDENTITY_ROUTE = "identity.token"


def _is_loopback(address: str | None) -> bool:
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return (mapped or ip).is_loopback


def _from_http_exception(exc: web.HTTPException) -> ApiError:
    message = "Resource not found." if exc.status == 404 else exc.reason
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return ApiError(exc.status, message, code=default_code(exc.status), headers=headers)


def fault_error(fault: Fault) -> ApiError:
    """The error a ``status`` fault answers with, including the rate-limit hints on a 429."""
    status = fault.status or 500
    headers: dict[str, str] = {}
    if fault.retry_after_s is not None:
        headers["Retry-After"] = f"{fault.retry_after_s:g}"
    if fault.retry_after_ms is not None:
        headers["retry-after-ms"] = str(fault.retry_after_ms)
    default = "Rate limit is exceeded. Try again later." if status == 429 else "The server had an error."
    message = fault.message or default
    return ApiError(status, message, code=fault.code or default_code(status), headers=headers)


async def _delay(request: web.Request, seconds: float) -> web.StreamResponse | None:
    """Sleep, but give up early (as a dropped request) once the client has hung up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        await asyncio.sleep(min(left, 0.05))
        if request.transport is None or request.transport.is_closing():
            return web.Response(status=499)
    return None


class Pipeline:
    """The single aiohttp middleware of the emulator."""

    #: Marks this callable as a new-style aiohttp middleware.
    __middleware_version__ = 1

    def __init__(
        self,
        *,
        names: dict[AbstractRoute, str],
        issuer: TokenIssuer,
        faults: FaultRegistry,
        log: list[RecordedRequest],
        before_each: Callable[[], Awaitable[None]],
    ) -> None:
        self._names = names
        self._issuer = issuer
        self._faults = faults
        self._log = log
        self._before_each = before_each

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await self._control(request, handler)
        route = self._names.get(request.match_info.route)
        record = RecordedRequest.of(request, route, request_id())
        request[RECORD] = record
        self._log.append(record)
        try:
            response = await self._handle(request, handler, route)
        except ApiError as exc:
            response = exc.to_response(record.request_id)
        except web.HTTPException as exc:
            response = _from_http_exception(exc).to_response(record.request_id)
        except ConnectionResetError:
            # The client hung up mid-body (an upload it cut off): this answer reaches nobody.
            log.info("the client hung up during %s %s", request.method, request.path)
            response = ApiError(400, "The request body ended before it was complete.").to_response(record.request_id)
        except Exception:
            # A bug in the emulator still answers like the service would: a 500 server_error.
            log.exception("the emulator failed on %s %s", request.method, request.path)
            response = ApiError(500, "The server had an error.").to_response(record.request_id)
        if not response.prepared:
            response.headers["x-request-id"] = record.request_id
            response.headers["apim-request-id"] = record.request_id
        record.body_received = request.content.total_bytes
        hung_up = request.transport is None or request.transport.is_closing()
        # Nothing reaches a client whose connection is gone (a drop fault, or a client that gave up).
        record.status = None if hung_up and not response.prepared else response.status
        return response

    async def _handle(self, request: web.Request, handler: Handler, route: str | None) -> web.StreamResponse:
        if route is None:
            return await handler(request)  # raises the router's 404/405
        await self._before_each()
        fault = self._faults.take(route, TRANSPORT_KINDS)
        if fault is not None:
            dropped = await self._apply(fault, request)
            if dropped is not None:
                return dropped
        if route != IDENTITY_ROUTE:
            self._issuer.check(request)
        if route.startswith("agents.") and request.query.get("api-version") != "v1":
            sent = request.query.get("api-version")
            message = "The api-version query parameter (?api-version=v1) is required for all requests."
            if sent is not None:
                message = f"Unsupported api-version '{sent}'. The supported version is v1."
            raise ApiError(400, message, code="BadRequest", param="api-version")
        return await handler(request)

    async def _apply(self, fault: Fault, request: web.Request) -> web.StreamResponse | None:
        """Apply a transport fault; a returned response means the connection was dropped."""
        if fault.kind == "delay":
            return await _delay(request, fault.delay_s or 0.0)
        if fault.kind == "drop":
            if request.transport is not None:
                request.transport.close()
            # Writing this to the closed transport fails quietly inside aiohttp: the client
            # sees the connection close without any response, which is the point.
            return web.Response(status=500)
        if fault.after_body:
            await _drain(request)
        raise fault_error(fault)

    async def _control(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _is_loopback(request.remote):
            return ApiError(403, "The control API answers loopback callers only.").to_response(request_id())
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.to_response(request_id())


async def _drain(request: web.Request) -> None:
    """Read the whole request body and let it go, noting its size."""
    size = 0
    while chunk := await request.content.readany():
        size += len(chunk)
    note_body(request, size)
