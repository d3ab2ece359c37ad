"""What Slack reports about a file is compared with its extension, tolerating Slack's own names."""

from __future__ import annotations

import pytest

from bot.files.declared import SLACK_FILETYPES, declared_type_fits, fitting_filetypes, fitting_mimetypes
from bot.files.types import ACCEPTED, TEXT


@pytest.mark.parametrize("ext", sorted(ACCEPTED))
def test_seed_mimetypes_and_slack_names_fit(ext: str) -> None:
    """Each seed-table MIME type and each of Slack's names for the type fits, alone or together."""
    for mimetype in ACCEPTED[ext]:
        assert declared_type_fits(ext, mimetype, "")
        for filetype in SLACK_FILETYPES[ext]:
            assert declared_type_fits(ext, "", filetype)
            assert declared_type_fits(ext, mimetype, filetype)


@pytest.mark.parametrize("ext", sorted(ACCEPTED))
def test_nothing_reported_yet_fits(ext: str) -> None:
    """Slack leaves both fields empty while it scans a file, which is not a contradiction."""
    assert declared_type_fits(ext, "", "")
    assert declared_type_fits(ext, "  ", "")


@pytest.mark.parametrize(
    ("ext", "mimetype", "filetype"),
    [
        ("csv", "text/csv", "csv"),
        ("csv", "application/vnd.ms-excel", ""),
        ("csv", "text/plain", "text"),
        ("py", "text/plain; charset=utf-8", "text"),
        ("py", "TEXT/X-PYTHON", ""),
        ("ts", "video/mp2t", "typescript"),
        ("md", "text/x-markdown", "markdown"),
        ("json", "application/json", "javascript"),
        ("jpeg", "image/jpeg", "jpg"),
        ("zip", "application/x-zip-compressed", "zip"),
        ("pdf", "application/octet-stream", "binary"),
        ("tar", "application/octet-stream", "binary"),
        ("xlsx", "application/zip", "zip"),
        # Either field fitting is enough.
        ("png", "application/octet-stream", "png"),
        ("csv", "application/x-unknown", "csv"),
    ],
)
def test_common_variants_fit(ext: str, mimetype: str, filetype: str) -> None:
    """Generic and alternative types that Slack and browsers commonly report are tolerated."""
    assert declared_type_fits(ext, mimetype, filetype)


@pytest.mark.parametrize(
    ("ext", "mimetype", "filetype"),
    [
        ("csv", "application/octet-stream", "binary"),
        ("py", "", "binary"),
        ("png", "application/pdf", "pdf"),
        ("gif", "image/jpeg", "jpg"),
        ("txt", "application/pdf", ""),
        ("xlsx", "application/pdf", "pdf"),
        ("pdf", "text/plain", "text"),
        ("zip", "text/html", "html"),
        ("docx", "", "xlsx"),
    ],
)
def test_contradictions_do_not_fit(ext: str, mimetype: str, filetype: str) -> None:
    """A type Slack reports that belongs to something else, or "binary" for text, does not fit."""
    assert not declared_type_fits(ext, mimetype, filetype)


def test_generic_types_follow_the_kind_of_file() -> None:
    """text/plain fits only text types and application/octet-stream only binary ones."""
    for ext in ACCEPTED:
        assert ("text/plain" in fitting_mimetypes(ext)) == (ext in TEXT)
        assert ("application/octet-stream" in fitting_mimetypes(ext)) == (ext not in TEXT)
        assert ("text" in fitting_filetypes(ext)) == (ext in TEXT)
        assert "binary" not in fitting_filetypes(ext)
