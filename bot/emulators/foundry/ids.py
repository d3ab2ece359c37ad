"""Identifiers shaped like the real service's, so clients that sniff prefixes behave the same."""

from __future__ import annotations

import secrets

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def new_id(prefix: str, length: int = 24) -> str:
    """A fresh id such as ``conv_…``, ``resp_…`` or ``assistant-…`` (prefix includes its separator)."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def request_id() -> str:
    """A request id in the 32-hex form Foundry puts in ``additionalInfo.request_id``."""
    return secrets.token_hex(16)
