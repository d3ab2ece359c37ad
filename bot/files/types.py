"""The file types Code Interpreter accepts, and how a file name maps to one.

The table is exactly the "Supported file types" table of Microsoft's Code Interpreter
documentation (extension -> MIME type); anything else would be refused by Foundry anyway,
so we refuse it first, with a sentence that says what would work.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

ACCEPTED: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "c": ("text/x-c",),
        "cpp": ("text/x-c++",),
        "csv": ("application/csv",),
        "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
        "html": ("text/html",),
        "java": ("text/x-java",),
        "json": ("application/json",),
        "md": ("text/markdown",),
        "pdf": ("application/pdf",),
        "php": ("text/x-php",),
        "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation",),
        "py": ("text/x-python", "text/x-script.python"),
        "rb": ("text/x-ruby",),
        "tex": ("text/x-tex",),
        "txt": ("text/plain",),
        "css": ("text/css",),
        "jpeg": ("image/jpeg",),
        "jpg": ("image/jpeg",),
        "js": ("text/javascript",),
        "gif": ("image/gif",),
        "png": ("image/png",),
        "tar": ("application/x-tar",),
        "ts": ("application/typescript",),
        "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",),
        "xml": ("application/xml", "text/xml"),
        "zip": ("application/zip",),
    }
)

#: Types whose content must be text; the rest are checked by their magic bytes.
TEXT: frozenset[str] = frozenset(
    {"c", "cpp", "csv", "html", "java", "json", "md", "php", "py", "rb", "tex", "txt", "css", "js", "ts", "xml"}
)

#: How a type is named in a sentence ("the file is not really a PNG image").
LABELS: Mapping[str, str] = MappingProxyType(
    {
        "c": "a C source file",
        "cpp": "a C++ source file",
        "csv": "a CSV file",
        "docx": "a Word document",
        "html": "an HTML page",
        "java": "a Java source file",
        "json": "a JSON file",
        "md": "a Markdown file",
        "pdf": "a PDF document",
        "php": "a PHP file",
        "pptx": "a PowerPoint presentation",
        "py": "a Python file",
        "rb": "a Ruby file",
        "tex": "a TeX file",
        "txt": "a text file",
        "css": "a CSS file",
        "jpeg": "a JPEG image",
        "jpg": "a JPEG image",
        "js": "a JavaScript file",
        "gif": "a GIF image",
        "png": "a PNG image",
        "tar": "a tar archive",
        "ts": "a TypeScript file",
        "xlsx": "an Excel workbook",
        "xml": "an XML file",
        "zip": "a ZIP archive",
    }
)

_SEPARATORS = re.compile(r"[/\\]")


def accepted_list() -> str:
    """The accepted extensions, sorted and comma-separated, for messages."""
    return ", ".join(sorted(ACCEPTED))


def extension_of(name: str) -> str:
    """The lower-case extension of the name's last path component, without the dot ("" if none).

    A leading dot does not start an extension (".csv" has none), as in ``pathlib``.
    """
    base = _SEPARATORS.split(name)[-1].strip()
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem.strip("."):
        return ""
    return ext.strip().lower()
