"""Before download: the extension, Slack's reported type, the size and the thread's file slots."""

from __future__ import annotations

from typing import Any

import pytest

from bot.files.gate import (
    FOUNDRY_MAX_BYTES,
    Rejection,
    SlackFile,
    check_declared,
    check_slots,
    too_many_files,
)
from bot.files.types import accepted_list

MB = 1024 * 1024
LIMIT = 100 * MB


def declared(name: str, size: int = 1000, mimetype: str = "", filetype: str = "", limit: int = LIMIT) -> Rejection:
    rejection = check_declared(SlackFile("F1", name, size, mimetype, filetype), max_bytes=limit)
    assert rejection is not None
    assert rejection.reason.endswith(".")
    return rejection


def test_from_slack_reads_an_event_file_object() -> None:
    """The fields of a Slack file object become a SlackFile; the rest is ignored."""
    obj: dict[str, Any] = {
        "id": "F0S43PZDF",
        "name": "tedair.gif",
        "title": "Ted in the air",
        "mimetype": "image/gif",
        "filetype": "gif",
        "pretty_type": "GIF",
        "size": 137531,
        "mode": "hosted",
    }
    assert SlackFile.from_slack(obj) == SlackFile("F0S43PZDF", "tedair.gif", 137531, "image/gif", "gif")


def test_from_slack_tolerates_missing_and_null_fields() -> None:
    """A stub or unnamed file yields empty strings and size 0 rather than an exception."""
    stub = SlackFile.from_slack({"id": "F1", "file_access": "check_file_info", "name": None, "size": True})
    assert stub == SlackFile("F1", "", 0)
    assert SlackFile.from_slack({"id": "F2", "name": "a.csv", "size": "42"}).size == 42
    assert SlackFile.from_slack({"id": "F3", "name": "a.csv", "size": "²"}).size == 0


def test_accepted_file_passes() -> None:
    """A CSV that Slack calls a CSV, within the limit, passes."""
    assert check_declared(SlackFile("F1", "sales.csv", 602, "text/csv", "csv"), max_bytes=LIMIT) is None


def test_unsupported_extension_names_it_and_lists_what_is_accepted() -> None:
    """An .exe is refused with a sentence naming the extension and every accepted one."""
    rejection = declared("report.exe", mimetype="application/x-msdownload", filetype="binary")
    assert rejection.code == "unsupported_type"
    assert rejection.reason == f"Skipped report.exe: .exe files can't be analysed. Accepted: {accepted_list()}."


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("Makefile", "files without an extension"),
        ("archive.tar.gz", ".gz files"),
        ("x.<!channel>", "files of this type"),
        ("x.c++", "files of this type"),
        ("x." + "a" * 40, "files of this type"),
    ],
)
def test_unsupported_names_the_type_safely(name: str, what: str) -> None:
    """The refusal describes the type without echoing anything unsafe or overlong."""
    rejection = declared(name)
    assert rejection.code == "unsupported_type"
    assert f": {what} can't be analysed." in rejection.reason
    assert "<" not in rejection.reason


@pytest.mark.parametrize(
    ("name", "mimetype", "filetype"),
    [
        ("photo.png", "application/pdf", "pdf"),
        ("data.csv", "application/octet-stream", "binary"),
        ("notes.docx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    ],
)
def test_declared_type_contradicting_the_extension(name: str, mimetype: str, filetype: str) -> None:
    """When Slack's reported type belongs to another kind of file, the file is refused before download."""
    rejection = declared(name, mimetype=mimetype, filetype=filetype)
    assert rejection.code == "type_mismatch"
    assert rejection.reason.startswith(f"Skipped {name}: its name says ")
    assert mimetype in rejection.reason


def test_type_mismatch_cleans_what_slack_reports() -> None:
    """A MIME type taken from the upload is shown without markup, like a name."""
    rejection = declared("a.csv", mimetype="<!channel>/x", filetype="*bold*")
    assert rejection.code == "type_mismatch"
    assert not set(rejection.reason) & set("<>*")


def test_empty_file_is_refused() -> None:
    """Slack reporting size 0 means there is nothing to analyse."""
    rejection = declared("empty.csv", size=0, mimetype="text/csv", filetype="csv")
    assert rejection.code == "empty"
    assert rejection.reason == "Skipped empty.csv: the file is empty."


def test_too_large_for_our_limit() -> None:
    """A file over the configured limit is refused with its size and the limit."""
    rejection = declared("big.csv", size=130_000_000, mimetype="text/csv")
    assert rejection.code == "too_large"
    assert rejection.reason == "Skipped big.csv: the file is 130 MB; the limit is 100 MB."


def test_too_large_for_foundry_even_with_a_higher_limit() -> None:
    """Foundry's 512 MB ceiling applies whatever the configured limit."""
    rejection = declared("huge.zip", size=FOUNDRY_MAX_BYTES + 1, limit=10 * FOUNDRY_MAX_BYTES)
    assert rejection.code == "too_large"
    assert rejection.reason.endswith("the limit is 512 MB.")


def test_exactly_at_the_limit_passes() -> None:
    """The limit itself is allowed; one byte more is not."""
    assert check_declared(SlackFile("F1", "a.csv", LIMIT), max_bytes=LIMIT) is None
    assert declared("a.csv", size=LIMIT + 1).code == "too_large"


def test_odd_limit_is_shown_in_decimal_units() -> None:
    """A limit that is not a whole number of MB is shown like any other size."""
    assert declared("a.csv", size=2_000_000, limit=1_500_000).reason.endswith("the limit is 1.5 MB.")


def test_path_in_the_name_never_reaches_a_message() -> None:
    """The ../../etc/passwd.csv name appears as passwd.csv in every refusal."""
    name = "../../etc/passwd.csv"
    rejections = [
        declared(name, mimetype="image/png", filetype="png"),
        declared(name, size=0),
        declared(name, size=LIMIT + 1),
        too_many_files(SlackFile("F1", name, 10), 20),
    ]
    for rejection in rejections:
        assert rejection.reason.startswith("Skipped passwd.csv: ")
        assert "etc" not in rejection.reason
        assert ".." not in rejection.reason


@pytest.mark.parametrize(
    ("count", "new", "slots", "fit"),
    [(0, 3, 20, 3), (18, 5, 20, 2), (20, 1, 20, 0), (25, 2, 20, 0), (0, 0, 20, 0), (0, 25, 20, 20)],
)
def test_check_slots(count: int, new: int, slots: int, fit: int) -> None:
    """Only as many new files fit as the thread has free slots, never fewer than none."""
    assert check_slots(count, new, slots) == fit


def test_too_many_files_sentence() -> None:
    """A file beyond the slots is refused with the number of slots and what to do."""
    rejection = too_many_files(SlackFile("F1", "x.csv", 10), 20)
    assert rejection.code == "too_many_files"
    assert rejection.reason == (
        "Skipped x.csv: this thread already has 20 files, the most one sandbox can take. Start a new thread for more."
    )
    assert "has 1 file," in too_many_files(SlackFile("F1", "x.csv", 10), 1).reason
