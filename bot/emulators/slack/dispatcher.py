"""Delivery of everything Slack sends the app, over whichever transport is selected.

Events are retried like Slack retries them (up to three more times, with the policy's delays
and a retry reason); slash commands and interactions get one attempt, as in Slack, where the
person sees an error instead. Every attempt is recorded on its :class:`Delivery`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .config import RetryPolicy
from .http_delivery import HttpTransport
from .records import Attempt, Delivery, DeliveryKind, Notifier, Transport
from .socket_mode import SocketModeServer

AckHandler = Callable[[Delivery, Attempt], Awaitable[None]]


class Dispatcher:
    """Creates deliveries, runs their attempts in the background, and records the outcome."""

    def __init__(
        self,
        notifier: Notifier,
        http: HttpTransport,
        socket: SocketModeServer,
        retry: RetryPolicy,
        request_url: str | None,
    ) -> None:
        self._notifier = notifier
        self.http = http
        self.socket = socket
        self.retry = retry
        self.request_url = request_url
        self.mode: Transport = "http" if request_url else "socket_mode"
        self.deliveries: list[Delivery] = []
        self.on_ack: AckHandler | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def publish(self, kind: DeliveryKind, payload: dict[str, Any]) -> Delivery:
        """Record a delivery and start sending it in the background."""
        delivery = Delivery(id=len(self.deliveries) + 1, kind=kind, payload=payload)
        self.deliveries.append(delivery)
        task = asyncio.create_task(self._run(delivery), name=f"slack-delivery-{delivery.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._notifier.notify()
        return delivery

    async def _run(self, delivery: Delivery) -> None:
        try:
            attempt = await self.attempt(delivery, 0, "")
            retries = self.retry.retry_delays if delivery.kind == "events_api" else ()
            for number, delay in enumerate(retries, start=1):
                if attempt.acked or self.http.refuses_retry(attempt):
                    break
                await asyncio.sleep(delay)
                attempt = await self.attempt(delivery, number, attempt.outcome)
        except Exception as exc:  # noqa: BLE001 - kept on the record; a background task has no caller
            delivery.error = repr(exc)
        finally:
            delivery.finished = True
            self._notifier.notify()

    async def attempt(self, delivery: Delivery, retry_num: int, retry_reason: str) -> Attempt:
        """Make one attempt now, over the current transport (also used for forced redelivery)."""
        timeout = self.retry.ack_timeout
        if self.mode == "http":
            if self.request_url is None:
                raise RuntimeError("HTTP delivery needs a request URL: call use_http(url) first")
            attempt = await self.http.attempt(self.request_url, delivery, retry_num, retry_reason, timeout)
        else:
            attempt = await self.socket.attempt(delivery, retry_num, retry_reason, timeout)
        if attempt.acked:
            delivery.ack_body = attempt.response_body
            if self.on_ack is not None:
                await self.on_ack(delivery, attempt)
        self._notifier.notify()
        return attempt

    async def settle(self, within: float) -> None:
        """Wait until every delivery started so far has finished (acked or given up)."""
        deadline = time.monotonic() + within
        while True:
            pending = [t for t in self._tasks if not t.done()]
            if not pending:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(pending)} Slack deliveries still in flight after {within} s")
            await asyncio.wait(pending, timeout=left)

    async def close(self) -> None:
        """Abandon deliveries still in flight."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
