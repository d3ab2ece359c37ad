"""The accepted types are exactly Code Interpreter's table, and names map to them by extension."""

from __future__ import annotations

import pytest

from bot.files.types import ACCEPTED, LABELS, TEXT, accepted_list, extension_of

#: The "Supported file types" table of Microsoft's Code Interpreter documentation.
SEED_TABLE = {
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


def test_accepted_is_exactly_the_seed_table() -> None:
    """Every extension and MIME type of the documentation's table is accepted, and nothing more."""
    assert dict(ACCEPTED) == SEED_TABLE


def test_accepted_cannot_be_changed_at_run_time() -> None:
    """The table is read-only, so no caller can widen the gate by accident."""
    with pytest.raises(TypeError):
        ACCEPTED["exe"] = ("application/x-msdownload",)  # type: ignore[index]


def test_every_type_has_a_label_and_text_types_are_accepted() -> None:
    """Each accepted type can be named in a sentence, and the text types are a subset of the table."""
    assert set(LABELS) == set(ACCEPTED)
    assert set(ACCEPTED) > TEXT


def test_accepted_list_is_sorted_and_comma_separated() -> None:
    """The list shown to people is alphabetical and names all 26 extensions."""
    shown = accepted_list()
    assert shown.startswith("c, cpp, css, csv, docx, gif, html")
    assert shown.split(", ") == sorted(SEED_TABLE)


@pytest.mark.parametrize(
    ("name", "ext"),
    [
        ("sales.csv", "csv"),
        ("Report.PDF", "pdf"),
        ("archive.tar.gz", "gz"),
        ("../../etc/passwd.csv", "csv"),
        ("C:\\Users\\me\\notes.TXT", "txt"),
        ("dir.v2/README", ""),
        ("README", ""),
        (".csv", ""),
        ("trailing.", ""),
        ("spaced.csv ", "csv"),
        ("", ""),
    ],
)
def test_extension_of(name: str, ext: str) -> None:
    """The extension is the lower-case text after the last dot of the last path component."""
    assert extension_of(name) == ext
