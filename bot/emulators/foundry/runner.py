"""Runs a container's code cells in its kernel, as the sandbox would, without blocking the event loop.

The cell's absolute ``/mnt/data`` paths are rewritten to the container's temp folder, and the
folder is mapped back to ``/mnt/data`` in what the cell prints, so both the code and its output
look the way they would in the real sandbox. Limits: wall-clock time per cell (the kernel is
killed, and the next cell starts a fresh one) and address space (``RLIMIT_AS``, set inside the
worker before any cell runs). Output is capped so a cell that prints forever cannot fill the
emulator's memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bot.emulators.foundry.kernel import Kernel, Outcome
from bot.emulators.foundry.state import MOUNT_POINT

# Passed through from the emulator's environment; secrets and everything else stay out.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "MPLCONFIGDIR", "SYSTEMROOT")


@dataclass(frozen=True)
class RunResult:
    """What a cell did: exit code, captured output (with ``/mnt/data`` paths), and whether it was stopped."""

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def logs(self) -> str:
        return self.stdout + self.stderr

    def error_line(self) -> str:
        """The last line of the traceback, e.g. ``ZeroDivisionError: division by zero``."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1].strip() if lines else f"exit code {self.exit_code}"


def _environment() -> dict[str, str]:
    env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    env.update(
        PYTHONIOENCODING="utf-8",
        PYTHONUNBUFFERED="1",
        MPLBACKEND="Agg",
        # One thread each, so numeric libraries stay inside the address-space limit.
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    return env


class CellRunner:
    """One container's interpreter: its kernel, its path mapping and its limits."""

    def __init__(self, data_dir: Path, *, timeout_s: float, memory_mb: int) -> None:
        self._data_dir = data_dir
        self._timeout_s = timeout_s
        self._kernel = Kernel(data_dir, memory_bytes=memory_mb * 1024 * 1024, env=_environment())

    def to_host(self, code: str) -> str:
        """The cell as it must run here: ``/mnt/data`` points at the container folder."""
        return code.replace(MOUNT_POINT, str(self._data_dir))

    def to_sandbox(self, text: str) -> str:
        """Output as the sandbox would print it: ``/mnt/data`` paths, no trace of the host folder."""
        for folder in {str(self._data_dir.resolve()), str(self._data_dir)}:
            text = text.replace(folder, MOUNT_POINT)
        return text

    async def run(self, code: str, cell_name: str) -> RunResult:
        """Run ``code`` to completion, to its time limit, or until this task is cancelled."""
        outcome = await self._kernel.run(self.to_host(code), cell_name, self._timeout_s)
        return RunResult(
            exit_code=outcome.exit_code,
            stdout=self.to_sandbox(outcome.stdout.decode("utf-8", errors="replace")),
            stderr=self.to_sandbox(outcome.stderr.decode("utf-8", errors="replace") + self._note(outcome)),
            timed_out=outcome.timed_out,
        )

    def shutdown(self) -> None:
        """Kill the kernel for good (the container is gone); for callers that cannot await."""
        self._kernel.shutdown()

    async def close(self) -> None:
        """Kill the kernel for good and wait until its processes are reaped."""
        await self._kernel.close()

    def _note(self, outcome: Outcome) -> str:
        if outcome.timed_out:
            return f"\nTimeoutError: the cell ran longer than {self._timeout_s:g} seconds and was stopped.\n"
        if outcome.died:
            return "\nKernelDied: the Python kernel stopped; the next cell starts a fresh one without its variables.\n"
        return ""
