"""The sample files and the metadata Slack would report for them, shared by the gate tests."""

from __future__ import annotations

from pathlib import Path

from bot.files.gate import SlackFile
from bot.files.types import ACCEPTED, extension_of

DATA = Path(__file__).resolve().parents[2] / "data"
VALID = sorted((DATA / "valid").iterdir())
HOSTILE = sorted((DATA / "hostile").iterdir())

#: The ``filetype`` Slack gives each accepted extension (its own names, not extensions).
SLACK_FILETYPE = {
    "c": "c",
    "cpp": "cpp",
    "csv": "csv",
    "docx": "docx",
    "html": "html",
    "java": "java",
    "json": "json",
    "md": "markdown",
    "pdf": "pdf",
    "php": "php",
    "pptx": "pptx",
    "py": "python",
    "rb": "ruby",
    "tex": "latex",
    "txt": "text",
    "css": "css",
    "jpeg": "jpg",
    "jpg": "jpg",
    "js": "javascript",
    "gif": "gif",
    "png": "png",
    "tar": "tar",
    "ts": "typescript",
    "xlsx": "xlsx",
    "xml": "xml",
    "zip": "zip",
}

#: What Slack reports for types we refuse.
_UNACCEPTED = {"exe": ("application/x-msdownload", "binary"), "sh": ("application/x-sh", "shell")}


def slack_file(path: Path, name: str | None = None) -> SlackFile:
    """A SlackFile for ``path`` as Slack describes it, trusting the name (as Slack does)."""
    shown = name or path.name
    ext = extension_of(shown)
    if ext in ACCEPTED:
        mimetype, filetype = ACCEPTED[ext][0], SLACK_FILETYPE[ext]
    else:
        mimetype, filetype = _UNACCEPTED.get(ext, ("application/octet-stream", "binary"))
    return SlackFile(id="F0TEST", name=shown, size=path.stat().st_size, mimetype=mimetype, filetype=filetype)
