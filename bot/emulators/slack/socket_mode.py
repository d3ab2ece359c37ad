"""Slack's side of Socket Mode: a WebSocket that pushes envelopes.

A connection gets ``hello``; each envelope waits for ``{"envelope_id": …}`` within the ack
timeout (slash commands may add a response ``payload``); pings are answered and counted; a
``disconnect`` frame asks the client to reconnect through ``apps.connections.open``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .records import Attempt, Delivery, Notifier, SocketFrame


@dataclass
class Connection:
    """One open WebSocket from the app."""

    id: int
    ws: web.WebSocketResponse
    opened_at: float
    envelopes_sent: list[str] = field(default_factory=list)


class SocketModeServer:
    """Accepts app connections, sends envelopes, and matches acks to them."""

    def __init__(self, app_id: str, notifier: Notifier) -> None:
        self._app_id = app_id
        self._notifier = notifier
        self._ids = itertools.count(1)
        self._next = itertools.count()
        self._tickets: set[str] = set()
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._has_connection = asyncio.Event()
        self.connections: list[Connection] = []
        self.connections_opened = 0
        self.frames: list[SocketFrame] = []
        self.pings_answered = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def add_ticket(self, ticket: str) -> None:
        """Accept connections that present this ticket (issued by ``apps.connections.open``)."""
        self._tickets.add(ticket)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The ``/link`` WebSocket endpoint."""
        if request.query.get("ticket") not in self._tickets:
            return web.Response(status=401, text="invalid_ticket")
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        connection = Connection(next(self._ids), ws, time.time())
        await ws.send_str(json.dumps(self._hello(len(self.connections) + 1)))
        self.connections.append(connection)
        self.connections_opened += 1
        self._has_connection.set()
        self._notifier.notify()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_text(connection, message.data)
                elif message.type == WSMsgType.PING:
                    await ws.pong(message.data)
                    self.pings_answered += 1
        finally:
            self._drop(connection)
        return ws

    def _hello(self, count: int) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": count,
            "debug_info": {"host": "applink-emulated", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self._app_id},
        }

    def _drop(self, connection: Connection) -> None:
        if connection in self.connections:
            self.connections.remove(connection)
        if not self.connections:
            self._has_connection.clear()
        self._notifier.notify()

    def _on_text(self, connection: Connection, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            data = {"unparsed": text}
        if not isinstance(data, dict):
            data = {"unparsed": text}
        self.frames.append(SocketFrame(connection.id, data, time.time()))
        future = self._pending.get(str(data.get("envelope_id")))
        if future is not None and not future.done():
            future.set_result(data)
        self._notifier.notify()

    async def _pick(self) -> Connection:
        while True:
            await self._has_connection.wait()
            live = [c for c in self.connections if not c.ws.closed]
            if live:
                return live[next(self._next) % len(live)]
            self._has_connection.clear()

    async def attempt(self, delivery: Delivery, retry_num: int, retry_reason: str, ack_timeout: float) -> Attempt:
        """Send one envelope (waiting for a connection if none is open) and await its ack."""
        envelope_id = str(uuid.uuid4())
        frame: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": delivery.kind,
            "accepts_response_payload": delivery.kind == "slash_commands",
            "payload": delivery.payload,
        }
        if delivery.kind == "events_api":
            frame.update(retry_attempt=retry_num, retry_reason=retry_reason)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[envelope_id] = future
        try:
            connection = await self._send(frame)
            attempt = Attempt("socket_mode", retry_num, retry_reason, time.monotonic(), envelope_id=envelope_id)
            delivery.attempts.append(attempt)
            connection.envelopes_sent.append(envelope_id)
            try:
                ack = await asyncio.wait_for(future, ack_timeout)
            except TimeoutError:
                attempt.outcome = "timeout"
            else:
                attempt.outcome, attempt.status = "acked", 200
                if "payload" in ack:
                    attempt.response_body = json.dumps(ack["payload"])
            attempt.elapsed = time.monotonic() - attempt.started_at
            return attempt
        finally:
            self._pending.pop(envelope_id, None)

    async def _send(self, frame: dict[str, Any]) -> Connection:
        text = json.dumps(frame)
        while True:
            connection = await self._pick()
            try:
                await connection.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                self._drop(connection)
                continue
            return connection

    async def send_disconnect(self, reason: str = "refresh_requested", *, close_after: float | None = 5.0) -> int:
        """Send ``disconnect`` on every open connection and close them ``close_after`` s later.

        Returns how many connections were told. The closing happens in the background.
        """
        frame = json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-emulated"}})
        connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await connection.ws.send_str(frame)
        if close_after is not None:
            task = asyncio.create_task(self._close_later(connections, close_after))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(connections)

    @staticmethod
    async def _close_later(connections: list[Connection], delay: float) -> None:
        await asyncio.sleep(delay)
        for connection in connections:
            await connection.ws.close()

    async def close(self) -> None:
        """Close every connection (the emulator is stopping)."""
        for task in list(self._tasks):
            task.cancel()
        for connection in list(self.connections):
            await connection.ws.close()
        for future in self._pending.values():
            future.cancel()
