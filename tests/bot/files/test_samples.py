"""Every real sample file gets the verdict it deserves: valid ones pass, each hostile one has its reason."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from bot.files.archives import OOXML_MAIN_PARTS
from bot.files.gate import Rejection, check_content, check_declared, check_head
from bot.files.names import safe_name
from bot.files.sniff import HEAD_BYTES
from bot.files.source import Held
from bot.files.types import extension_of
from tests.bot.files.samples import HOSTILE, VALID, slack_file

LIMIT = 100 * 1024 * 1024

#: Each hostile sample and the code it must be refused with.
EXPECTED = {
    "binary-named.png": "content_mismatch",
    "binary.csv": "content_mismatch",
    "empty.csv": "empty",
    "jpeg-named.gif": "content_mismatch",
    "login-page.pdf": "login_page",
    "not-really.docx": "content_mismatch",
    "not-really.xlsx": "content_mismatch",
    "pdf-named.txt": "content_mismatch",
    "program.exe": "unsupported_type",
    "script.sh": "unsupported_type",
}


def gate(path: Path, name: str | None = None) -> Rejection | None:
    """Both checks in the order the bot runs them: declared first, content only if that passed."""
    file = slack_file(path, name)
    return check_declared(file, max_bytes=LIMIT) or check_content(file, path)


def test_every_type_has_a_valid_sample() -> None:
    """The valid folder covers all 26 accepted extensions, so the next test covers every type."""
    assert len({path.suffix for path in VALID}) == 26


@pytest.mark.parametrize("path", VALID, ids=lambda path: path.name)
def test_valid_sample_passes_both_checks(path: Path) -> None:
    """A real file of an accepted type, with the metadata Slack reports for it, is let through."""
    assert gate(path) is None


def test_every_hostile_sample_has_an_expectation() -> None:
    """A new hostile sample must be given its expected refusal here."""
    assert {path.name for path in HOSTILE} == set(EXPECTED)


@pytest.mark.parametrize("path", HOSTILE, ids=lambda path: path.name)
def test_hostile_sample_is_refused_with_its_own_reason(path: Path) -> None:
    """Each hostile file is stopped, by the check and with the code that fits what it is."""
    rejection = gate(path)
    assert rejection is not None
    assert rejection.code == EXPECTED[path.name]
    assert rejection.reason.startswith(f"Skipped {path.name}: ")
    assert rejection.reason.endswith(".")


@pytest.mark.parametrize("path", [*VALID, *HOSTILE], ids=lambda path: path.name)
def test_passwd_name_is_sanitised_whatever_the_content(path: Path) -> None:
    """Under the name ../../etc/passwd.csv, any refusal names the file passwd.csv and nothing more."""
    rejection = gate(path, name="../../etc/passwd.csv")
    if rejection is not None:
        assert rejection.reason.startswith(f"Skipped {safe_name('../../etc/passwd.csv')}: ")
        assert "etc" not in rejection.reason
        assert ".." not in rejection.reason


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        ("binary-named.png", "the file is not really a PNG image (its content looks like a program)."),
        ("pdf-named.txt", "the file is not really a text file (its content looks like a PDF document)."),
        ("jpeg-named.gif", "the file is not really a GIF image (its content looks like a JPEG image)."),
        (
            "not-really.xlsx",
            "the file is not really an Excel workbook (its content looks like a ZIP archive of other files).",
        ),
        ("not-really.docx", "the file is not really a Word document (its content looks like an Excel workbook)."),
        ("binary.csv", "the file is not really a CSV file (its content looks like binary data)."),
    ],
)
def test_content_mismatch_says_what_the_file_looks_like(name: str, sentence: str) -> None:
    """The refusal tells the person what the file really seems to be."""
    rejection = gate(next(path for path in HOSTILE if path.name == name))
    assert rejection is not None
    assert rejection.reason == f"Skipped {name}: {sentence}"


def test_login_page_sentence_explains_the_fix() -> None:
    """The sign-in page refusal names the missing scope and both fixes."""
    rejection = gate(next(path for path in HOSTILE if path.name == "login-page.pdf"))
    assert rejection is not None
    assert rejection.reason.startswith("Skipped login-page.pdf: Slack sent a sign-in page instead of the file")
    assert "files:read" in rejection.reason
    assert "reinstall" in rejection.reason
    assert "/invite" in rejection.reason


@pytest.mark.parametrize("path", [*VALID, *HOSTILE], ids=lambda path: path.name)
def test_bytes_held_in_memory_get_the_same_verdict_as_the_file(path: Path) -> None:
    """A small file is checked from memory: every sample gets the verdict its file on disk gets."""
    file = slack_file(path)
    data = path.read_bytes()
    # As a download holds them: in pieces of the sizes the network happened to deliver.
    cuts = [0, *range(1, len(data), 65_537), len(data)]
    pieces = Held(data[start:end] for start, end in itertools.pairwise(cuts))
    on_disk = check_content(file, path)
    assert check_content(file, data) == on_disk
    assert check_content(file, pieces) == on_disk


@pytest.mark.parametrize("path", [*VALID, *HOSTILE], ids=lambda path: path.name)
def test_start_of_a_file_never_passes_what_the_whole_file_refuses_for_its_start(path: Path) -> None:
    """check_head, on the first bytes alone, refuses everything check_content refuses from them."""
    file = slack_file(path)
    whole = check_content(file, path)
    data = path.read_bytes()
    head = check_head(file, data[:HEAD_BYTES], whole=len(data) <= HEAD_BYTES)
    if head is not None:
        assert head == whole
    elif whole is not None:
        assert extension_of(path.name) in OOXML_MAIN_PARTS  # only a package's parts need the end
