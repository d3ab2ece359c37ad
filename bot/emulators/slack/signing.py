"""Request signatures, computed here rather than borrowed from slack_sdk.

Writing it independently is the point: a bolt app that accepts these signatures proves the
emulator signs exactly like Slack, not merely like the library that verifies it.
"""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, timestamp: str, body: str) -> str:
    """``X-Slack-Signature`` for a raw request body sent at ``timestamp`` (epoch seconds)."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
