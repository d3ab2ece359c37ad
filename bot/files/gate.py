"""The type gate: which dropped files may be sent to Code Interpreter, and why the rest may not.

Two checks per file. ``check_declared`` runs on what Slack says about the file, before any
download; ``check_content`` runs on the downloaded bytes, reading only what it needs. Its first
part, ``check_head``, needs only the start of the file, so an upload may begin while the rest
is still arriving; that upload is completed only once ``check_content`` passed. Each refusal
is a ``Rejection``: a stable ``code`` for logs and tests and a plain sentence for the thread,
which names the file only by its safe name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.files.archives import OOXML_MAIN_PARTS, ooxml_kinds
from bot.files.declared import declared_type_fits
from bot.files.names import human_size, safe_name
from bot.files.sniff import HEAD_BYTES, HTML_PAGE, has_magic, looks_like_html, sniff
from bot.files.source import Source, open_source
from bot.files.text import head_is_text, is_text, sample_is_text, samples_are_text
from bot.files.types import ACCEPTED, LABELS, TEXT, accepted_list, extension_of

#: Foundry refuses larger files (MAX_FILE_MB counts the same binary megabytes).
FOUNDRY_MAX_BYTES = 512 * 1024 * 1024

Code = Literal[
    "unsupported_type", "type_mismatch", "content_mismatch", "too_large", "empty", "login_page", "too_many_files"
]

_PLAIN_EXTENSION = re.compile(r"[a-z0-9]{1,16}")
_NOT_IN_TYPE = re.compile(r"[^a-z0-9.+/-]")
_LOGIN_PAGE = (
    "Slack sent a sign-in page instead of the file, which means the app lacks the files:read scope or "
    "isn't a member of this channel — add the scope and reinstall the app, or /invite the bot to this channel."
)


@dataclass(frozen=True)
class SlackFile:
    """What Slack says about a file, from an event's file object or from ``files.info``."""

    id: str
    name: str
    size: int
    mimetype: str = ""
    filetype: str = ""

    @classmethod
    def from_slack(cls, obj: Mapping[str, Any]) -> SlackFile:
        """Read the fields the gate needs; missing or null ones become "" or 0.

        Slack Connect events may carry a stub (``"file_access": "check_file_info"``) without
        a name or size: fetch ``files.info`` first, or the stub is refused as empty.
        """
        return cls(
            id=_text(obj.get("id")),
            name=_text(obj.get("name")),
            size=_count(obj.get("size")),
            mimetype=_text(obj.get("mimetype")),
            filetype=_text(obj.get("filetype")),
        )


@dataclass(frozen=True)
class Rejection:
    """Why a file was skipped: ``code`` for logs and tests, ``reason`` for the person in Slack."""

    code: Code
    reason: str


def check_declared(file: SlackFile, *, max_bytes: int) -> Rejection | None:
    """Refuse, before download, a file whose name, reported type or size rules it out."""
    ext = extension_of(file.name)
    if ext not in ACCEPTED:
        return _unsupported(file)
    if not declared_type_fits(ext, file.mimetype, file.filetype):
        return _reject(
            file, "type_mismatch", f"its name says {LABELS[ext]}, but Slack reports it as {_reported(file)}."
        )
    if file.size <= 0:
        return _reject(file, "empty", "the file is empty.")
    limit = min(max_bytes, FOUNDRY_MAX_BYTES)
    if file.size > limit:
        return _reject(file, "too_large", f"the file is {human_size(file.size)}; the limit is {_limit(limit)}.")
    return None


def check_head(file: SlackFile, head: bytes, *, content_type: str = "", whole: bool = False) -> Rejection | None:
    """Refuse a file from its first ``HEAD_BYTES`` (``whole``: they are all of it).

    Empty, a sign-in page, magic bytes that don't match, a text file that starts as binary: the
    start of a file decides all of its check for most types, and all but the later samples for
    text (see :func:`starts_decide`). :func:`check_content` runs this and the rest.
    """
    ext = extension_of(file.name)
    if ext not in ACCEPTED:
        return _unsupported(file)
    if not head:
        return _reject(file, "empty", "the file is empty.")
    if ext != "html" and (content_type.strip().lower().startswith("text/html") or looks_like_html(head)):
        return _reject(file, "login_page", _LOGIN_PAGE)
    if ext in TEXT:
        looks_like = _text_head_looks_like(head, whole=whole)
    else:
        looks_like = None if has_magic(ext, head) else _binary_looks_like(head)
    return None if looks_like is None else _mismatch(file, ext, looks_like)


def check_content(file: SlackFile, source: Source, *, content_type: str = "") -> Rejection | None:
    """Refuse downloaded bytes that are empty, a sign-in page, or not what the extension says."""
    with open_source(source) as stream:
        head = stream.read(HEAD_BYTES)
        whole = not stream.read(1)
    rejection = check_head(file, head, content_type=content_type, whole=whole)
    if rejection is not None:
        return rejection
    ext = extension_of(file.name)
    if ext in TEXT:
        looks_like = None if is_text(source) else "binary data"
    elif ext in OOXML_MAIN_PARTS:
        looks_like = _package_looks_like(ext, source)
    else:
        looks_like = None
    return None if looks_like is None else _mismatch(file, ext, looks_like)


def check_sampled(
    file: SlackFile, head: bytes, sample: Callable[[int, int], bytes], size: int, *, content_type: str = ""
) -> Rejection | None:
    """:func:`check_content` for a file that was passed on rather than kept.

    ``head`` is its start and ``sample(offset, count)`` gives bytes within
    :func:`~bot.files.text.sample_ranges`, which is all the check reads of a type whose start
    decides it (see :func:`starts_decide`).
    """
    if not starts_decide(file):
        raise ValueError(f"{extension_of(file.name)} files are checked whole")
    rejection = check_head(file, head, content_type=content_type, whole=len(head) >= size)
    if rejection is not None or extension_of(file.name) not in TEXT:
        return rejection
    return None if samples_are_text(sample, size) else _mismatch(file, extension_of(file.name), "binary data")


def starts_decide(file: SlackFile) -> bool:
    """True if :func:`check_head` judges the file's type from its start, as for all but Office packages.

    A binary type is decided by its magic bytes and a text type by its first sample (samples from
    its middle and end follow). An Office package is a ZIP whose central directory, at the end of
    the file, says which parts it holds, so nothing about its type is known until the last byte.
    """
    return extension_of(file.name) not in OOXML_MAIN_PARTS


def check_slots(count_in_thread: int, new: int, slots: int) -> int:
    """How many of ``new`` files still fit next to the thread's ``count_in_thread`` in ``slots``."""
    return max(0, min(new, slots - count_in_thread))


def too_many_files(file: SlackFile, slots: int) -> Rejection:
    """The refusal for a file beyond the thread's ``slots`` (one sandbox takes that many files)."""
    files = "file" if slots == 1 else "files"
    return _reject(
        file,
        "too_many_files",
        f"this thread already has {slots} {files}, the most one sandbox can take. Start a new thread for more.",
    )


def _text_head_looks_like(head: bytes, *, whole: bool) -> str | None:
    kind = sniff(head)
    if kind is not None and kind != HTML_PAGE:
        return kind
    return None if head_is_text(head, whole=whole) else "binary data"


def _package_looks_like(ext: str, source: Source) -> str | None:
    kinds = ooxml_kinds(source)
    if ext in kinds:
        return None
    return LABELS[min(kinds)] if kinds else "a ZIP archive of other files"


def _binary_looks_like(head: bytes) -> str:
    kind = sniff(head)
    if kind is not None:
        return kind
    return "plain text" if sample_is_text(head, cut_end=True) else "some other kind of data"


def _mismatch(file: SlackFile, ext: str, looks_like: str) -> Rejection:
    return _reject(
        file, "content_mismatch", f"the file is not really {LABELS[ext]} (its content looks like {looks_like})."
    )


def _unsupported(file: SlackFile) -> Rejection:
    ext = extension_of(file.name)
    if not ext:
        what = "files without an extension"
    elif _PLAIN_EXTENSION.fullmatch(ext):
        what = f".{ext} files"
    else:
        what = "files of this type"
    return _reject(file, "unsupported_type", f"{what} can't be analysed. Accepted: {accepted_list()}.")


def _reported(file: SlackFile) -> str:
    # Both values can come from the uploader's browser: show only characters a type name uses.
    mime, kind = (_NOT_IN_TYPE.sub("", value.split(";", 1)[0].lower())[:80] for value in (file.mimetype, file.filetype))
    return f"{mime} ({kind})" if mime and kind else mime or kind or "another type"


def _limit(limit: int) -> str:
    # MAX_FILE_MB and Foundry's 512 MB count binary megabytes; show the number that was set.
    return f"{limit // 2**20} MB" if limit % 2**20 == 0 else human_size(limit)


def _reject(file: SlackFile, code: Code, text: str) -> Rejection:
    return Rejection(code, f"Skipped {safe_name(file.name)}: {text}")


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _count(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else 0
