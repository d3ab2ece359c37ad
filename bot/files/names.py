"""File names and sizes as a person sees them in Slack and an operator sees them in logs.

A file name is chosen by whoever uploaded the file. Before it appears in a message or a log
line it loses any path (``../../etc/passwd.csv``), control and bidirectional-override
characters (which can fake an extension or split a log line) and Slack markup characters
(``<!channel>``, ``*bold*``), and it is cut to a readable length with its extension kept.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME = 80
_FALLBACK = "file"
_LONGEST_KEPT_EXTENSION = 16
_SEPARATORS = re.compile(r"[/\\]")
_WHITESPACE = re.compile(r"\s+")
_DOTS = re.compile(r"\.{2,}")
_MARKUP = str.maketrans(dict.fromkeys("<>&*_`~|", "-"))


def safe_name(name: str) -> str:
    """The name made safe to show: last path component, no control or markup characters, short."""
    parts = [part for part in _SEPARATORS.split(name) if part.strip(" .")]
    base = parts[-1] if parts else ""
    base = "".join(" " if ch.isspace() else ch for ch in unicodedata.normalize("NFC", base) if _visible(ch))
    base = _DOTS.sub(".", _WHITESPACE.sub(" ", base.translate(_MARKUP))).strip(" .")
    return _shorten(base) or _FALLBACK


def _visible(ch: str) -> bool:
    # Category C is control, format (bidi overrides, zero-width), surrogate, private, unassigned.
    return ch.isspace() or not unicodedata.category(ch).startswith("C")


def _shorten(name: str) -> str:
    if len(name) <= MAX_NAME:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > _LONGEST_KEPT_EXTENSION:
        return name[: MAX_NAME - 1].rstrip(" .") + "…"
    return stem[: MAX_NAME - len(ext) - 2].rstrip(" .") + "…." + ext


def human_size(n: int) -> str:
    """A byte count in decimal units, as Slack shows sizes: "87 B", "512 KB", "1.2 MB", "3 GB"."""
    if n < 1000:
        return f"{n} B"
    if round(n / 1000) < 1000:
        return f"{round(n / 1000)} KB"
    value = n / 1_000_000
    for unit in ("MB", "GB"):
        if round(value, 1) < 1000:
            return _one_decimal(value, unit)
        value /= 1000
    return _one_decimal(value, "TB")


def _one_decimal(value: float, unit: str) -> str:
    # "130 MB" rather than "130.0 MB", as in "… is 130 MB; the limit is 100 MB".
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


def plain_name(name: str) -> str:
    """A file name to hand to another system: its last path part, without control characters.

    Unlike :func:`safe_name` it keeps the spelling (``_`` included), so code that names the file finds it.
    """
    base = re.split(r"[/\\]", name)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '"')
    cleaned = cleaned.strip().lstrip(".") or "file"
    return cleaned[-120:]
