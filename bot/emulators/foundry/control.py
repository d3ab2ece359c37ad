"""``/_emulator/…``: the test controls over HTTP, for tests that run the emulator out of process.

No bearer token is needed; the pipeline only lets loopback callers in.
"""

from __future__ import annotations

from aiohttp import web

from bot.emulators.foundry.errors import bad_request
from bot.emulators.foundry.faults import Fault, FaultRegistry
from bot.emulators.foundry.recording import RecordedRequest
from bot.emulators.foundry.sandbox import Sandboxes
from bot.emulators.foundry.state import EmulatorState
from bot.emulators.foundry.wire import ok, read_json


class ControlRoutes:
    """Counters, the request log, faults and forced container expiry."""

    def __init__(
        self, state: EmulatorState, sandboxes: Sandboxes, faults: FaultRegistry, log: list[RecordedRequest]
    ) -> None:
        self._state = state
        self._sandboxes = sandboxes
        self._faults = faults
        self._log = log

    def register(self, app: web.Application) -> None:
        app.router.add_get("/_emulator/counters", self.counters)
        app.router.add_get("/_emulator/requests", self.requests)
        app.router.add_delete("/_emulator/requests", self.clear_requests)
        app.router.add_get("/_emulator/faults", self.list_faults)
        app.router.add_post("/_emulator/faults", self.add_fault)
        app.router.add_delete("/_emulator/faults", self.clear_faults)
        app.router.add_post("/_emulator/containers/expire", self.expire)

    async def counters(self, request: web.Request) -> web.Response:
        await self._sandboxes.sweep()
        return ok(self._state.counters())

    async def requests(self, request: web.Request) -> web.Response:
        return web.json_response([r.to_json() for r in self._log])

    async def clear_requests(self, request: web.Request) -> web.Response:
        self._log.clear()
        return ok({"cleared": True})

    async def list_faults(self, request: web.Request) -> web.Response:
        return web.json_response([f.to_json() for f in self._faults.active()])

    async def add_fault(self, request: web.Request) -> web.Response:
        try:
            fault = Fault.from_json(await read_json(request))
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        self._faults.add(fault)
        return ok(fault.to_json())

    async def clear_faults(self, request: web.Request) -> web.Response:
        self._faults.clear()
        return ok({"cleared": True})

    async def expire(self, request: web.Request) -> web.Response:
        body = await read_json(request, optional=True)
        conversation_id = body.get("conversation_id")
        if conversation_id is not None and not isinstance(conversation_id, str):
            raise bad_request("conversation_id must be a string.", param="conversation_id")
        return ok({"expired": await self._sandboxes.expire(conversation_id)})
