"""`python -m bot demo` runs the real bot process between the emulators and checks every step."""

from __future__ import annotations

import subprocess
import sys


def test_demo_plays_every_step_and_exits_zero() -> None:
    """The demo prints each thread as a person sees it and exits 0 when every step happened."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo"], capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: a mention is answered in its thread" in result.stdout
    assert "ok: a follow-up needs no mention and sees earlier variables" in result.stdout
    assert "ok: a DM is answered" in result.stdout
    assert "ok: a dropped CSV is attached" in result.stdout
    assert "ok: a question about the CSV is answered" in result.stdout
    assert "162.89" in result.stdout
    assert "All demo steps happened." in result.stdout
