"""Events, slash commands and interactions POSTed to the app's request URL (HTTP mode).

Each attempt is signed afresh, bounded by the ack timeout, and classified with the
``X-Slack-Retry-Reason`` vocabulary so the dispatcher can retry like Slack.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from urllib.parse import urlencode

import aiohttp

from .records import Attempt, Delivery
from .signing import sign

_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


def encode(delivery: Delivery) -> tuple[str, str]:
    """(body, content type) of a delivery as Slack sends it over HTTP."""
    if delivery.kind == "events_api":
        return json.dumps(delivery.payload), "application/json"
    if delivery.kind == "slash_commands":
        fields = {
            k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in delivery.payload.items()
        }
        return urlencode(fields), "application/x-www-form-urlencoded"
    return urlencode({"payload": json.dumps(delivery.payload)}), "application/x-www-form-urlencoded"


class HttpTransport:
    """Sends one signed attempt and reports how it went."""

    def __init__(self, session: Callable[[], aiohttp.ClientSession], signing_secret: str, timestamp_skew: int) -> None:
        self._session = session
        self.signing_secret = signing_secret
        self.timestamp_skew = timestamp_skew

    def headers(self, body: str, content_type: str, retry_num: int, retry_reason: str) -> dict[str, str]:
        """Signed headers; retries carry ``X-Slack-Retry-Num``/``-Reason``."""
        timestamp = str(int(time.time()) + self.timestamp_skew)
        headers = {
            "Content-Type": content_type,
            "User-Agent": _USER_AGENT,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(self.signing_secret, timestamp, body),
        }
        if retry_num:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason
        return headers

    async def attempt(
        self, url: str, delivery: Delivery, retry_num: int, retry_reason: str, ack_timeout: float
    ) -> Attempt:
        """POST once; the attempt's ``outcome`` is ``acked`` or a Slack retry reason."""
        body, content_type = encode(delivery)
        headers = self.headers(body, content_type, retry_num, retry_reason)
        attempt = Attempt("http", retry_num, retry_reason, time.monotonic(), request_headers=headers)
        delivery.attempts.append(attempt)
        try:
            async with self._session().post(
                url,
                data=body.encode(),
                headers=headers,
                max_redirects=2,
                timeout=aiohttp.ClientTimeout(total=ack_timeout),
            ) as response:
                attempt.status = response.status
                attempt.response_headers = dict(response.headers)
                attempt.response_body = await response.text()
        except TimeoutError:
            attempt.outcome = "http_timeout"
        except aiohttp.TooManyRedirects:
            attempt.outcome = "too_many_redirects"
        except aiohttp.ClientSSLError:
            attempt.outcome = "ssl_error"
        except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError):
            attempt.outcome = "connection_failed"
        except aiohttp.ClientError:
            attempt.outcome = "unknown_error"
        else:
            attempt.outcome = "acked" if 200 <= attempt.status < 300 else "http_error"
        attempt.elapsed = time.monotonic() - attempt.started_at
        return attempt

    @staticmethod
    def refuses_retry(attempt: Attempt) -> bool:
        """An error answer with ``X-Slack-No-Retry: 1`` stops retries (timeouts still retry)."""
        if attempt.outcome != "http_error":
            return False
        return any(k.lower() == "x-slack-no-retry" and v == "1" for k, v in attempt.response_headers.items())
