"""Names and sizes are safe and short enough to show in Slack and in logs."""

from __future__ import annotations

import pytest

from bot.files.names import MAX_NAME, human_size, safe_name


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("sales.csv", "sales.csv"),
        ("../../etc/passwd.csv", "passwd.csv"),
        ("..\\..\\Windows\\win.ini.txt", "win.ini.txt"),
        ("reports/", "reports"),
        ("a/..", "a"),
        ("evil\u202egpj.exe", "evilgpj.exe"),
        ("two\nlines\r\n.csv", "two lines .csv"),
        ("tab\tand  spaces.csv", "tab and spaces.csv"),
        ("<!channel> *bold* _it_ `code` ~x~ a|b & c.csv", "-!channel- -bold- -it- -code- -x- a-b - c.csv"),
        ("zero\u200bwidth\x00nul\x7f.csv", "zerowidthnul.csv"),
        ("a..b...csv", "a.b.csv"),
        ("", "file"),
        ("../..", "file"),
        ("\x00\x01", "file"),
        ("<>", "--"),
    ],
)
def test_safe_name(raw: str, shown: str) -> None:
    """A name keeps only its last path component, without control, bidi or Slack markup characters."""
    assert safe_name(raw) == shown


def test_safe_name_shortens_long_names_and_keeps_the_extension() -> None:
    """A very long name is cut with an ellipsis and still ends in its extension."""
    shown = safe_name("quarterly revenue " * 20 + ".xlsx")
    assert len(shown) <= MAX_NAME
    assert shown.endswith("….xlsx")


def test_safe_name_shortens_names_without_a_usable_extension() -> None:
    """A long name without a short extension is simply cut."""
    shown = safe_name("x" * 200)
    assert len(shown) == MAX_NAME
    assert shown.endswith("…")


@pytest.mark.parametrize(
    "raw", ["../../etc/passwd.csv", "a/b\\c<d>&e*f_g`h~i|j\x00k\n.csv", "..", "\u202e" * 5, "." * 300, "é" * 500]
)
def test_safe_name_never_leaks_unsafe_text(raw: str) -> None:
    """Whatever the input, the result is non-empty, short, and free of separators and markup."""
    shown = safe_name(raw)
    assert shown
    assert len(shown) <= MAX_NAME
    assert not set(shown) & set("/\\<>&*_`~|\x00\n\r\t\u202e")
    assert ".." not in shown


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (87, "87 B"),
        (999, "999 B"),
        (1000, "1 KB"),
        (512_000, "512 KB"),
        (999_499, "999 KB"),
        (999_999, "1 MB"),
        (1_234_567, "1.2 MB"),
        (130_000_000, "130 MB"),
        (104_857_600, "104.9 MB"),
        (999_960_000, "1 GB"),
        (2_500_000_000, "2.5 GB"),
        (3_000_000_000_000, "3 TB"),
        (5_000_000_000_000_000, "5000 TB"),
    ],
)
def test_human_size(size: int, shown: str) -> None:
    """Sizes use decimal units, whole numbers up to KB and one decimal above, without a trailing .0."""
    assert human_size(size) == shown
