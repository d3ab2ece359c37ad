"""`python -m bot demo` runs the real bot process between the emulators and checks every step."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_plays_every_step_and_exits_zero(tmp_path: Path) -> None:
    """The demo prints each thread as a person sees it, saves the chart and exits 0 when every step happened."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo"], capture_output=True, text=True, timeout=180, check=False, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: a mention is answered in its thread" in result.stdout
    assert "ok: a follow-up needs no mention and sees earlier variables" in result.stdout
    assert "ok: a DM is answered" in result.stdout
    assert "ok: a dropped CSV is attached" in result.stdout
    assert "ok: a question about the CSV is answered" in result.stdout
    assert "162.89" in result.stdout
    assert "ok: the chart was posted in the thread" in result.stdout
    assert "ok: Show code posted the code that ran" in result.stdout
    assert (tmp_path / "demo-output" / "sales_chart.png").read_bytes().startswith(b"\x89PNG")
    assert "All demo steps happened." in result.stdout
    assert "Next: `python -m bot emulate foundry`" in result.stdout
