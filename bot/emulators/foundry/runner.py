"""Runs one code cell in a subprocess, as the sandbox would, without blocking the event loop.

The cell's absolute ``/mnt/data`` paths are rewritten to the container's temp folder, and the
folder is mapped back to ``/mnt/data`` in what the cell prints, so both the code and its output
look the way they would in the real sandbox. Limits: wall-clock time (the process group is
killed) and address space (``RLIMIT_AS``, set inside the child before the cell runs). Output is
capped so a cell that prints forever cannot fill the emulator's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.emulators.foundry.state import MOUNT_POINT

MAX_OUTPUT = 256 * 1024
READ_CHUNK = 64 * 1024

# Runs in the child: limit memory, enter the data folder, run the cell file as __main__.
_BOOTSTRAP = """\
import os, resource, sys
limit = int(sys.argv[2])
if limit > 0:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
os.chdir(sys.argv[3])
path = sys.argv[1]
sys.argv = [path]
with open(path, encoding="utf-8") as handle:
    source = handle.read()
exec(compile(source, path, "exec"), {"__name__": "__main__", "__file__": path})
"""

# The bootstrap's own line in a traceback, which the sandbox would not show.
_BOOTSTRAP_FRAME = re.compile(r'^  File "<string>", line \d+, in <module>\n', re.MULTILINE)

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


async def _read_capped(stream: asyncio.StreamReader | None) -> bytes:
    """Read a pipe to its end, keeping at most MAX_OUTPUT bytes."""
    if stream is None:
        return b""
    kept = bytearray()
    while chunk := await stream.read(READ_CHUNK):
        if len(kept) < MAX_OUTPUT:
            kept += chunk[: MAX_OUTPUT - len(kept)]
    return bytes(kept)


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def _drain(reading: asyncio.Future[tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
    """What was read once the process is killed; gives up if something else holds the pipes."""
    try:
        stdout, stderr = await asyncio.wait_for(asyncio.shield(reading), 5)
    except (TimeoutError, asyncio.CancelledError):
        reading.cancel()
        return b"", b""
    return stdout, stderr


class CellRunner:
    """Runs cells for one container folder with the configured limits."""

    def __init__(self, data_dir: Path, cells_dir: Path, *, timeout_s: float, memory_mb: int) -> None:
        self._data_dir = data_dir
        self._cells_dir = cells_dir
        self._timeout_s = timeout_s
        self._memory_bytes = memory_mb * 1024 * 1024

    def to_host(self, code: str) -> str:
        """The cell as it must run here: ``/mnt/data`` points at the container folder."""
        return code.replace(MOUNT_POINT, str(self._data_dir))

    def to_sandbox(self, text: str, cell: Path | None = None) -> str:
        """Output as the sandbox would print it: ``/mnt/data`` paths, no trace of the host folders."""
        if cell is not None:
            text = _BOOTSTRAP_FRAME.sub("", text).replace(str(cell), cell.name)
        for folder in {str(self._data_dir.resolve()), str(self._data_dir)}:
            text = text.replace(folder, MOUNT_POINT)
        return text

    async def run(self, code: str, cell_name: str) -> RunResult:
        """Run ``code`` to completion, to its time limit, or until this task is cancelled."""
        cell = self._cells_dir / cell_name
        await asyncio.to_thread(cell.write_text, self.to_host(code), "utf-8")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-c",
            _BOOTSTRAP,
            str(cell),
            str(self._memory_bytes),
            str(self._data_dir),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_environment(),
            start_new_session=True,
        )
        reading = asyncio.gather(_read_capped(process.stdout), _read_capped(process.stderr))
        timed_out = False
        try:
            stdout, stderr = await asyncio.wait_for(asyncio.shield(reading), self._timeout_s)
        except TimeoutError:
            timed_out = True
            _kill(process)
            stdout, stderr = await _drain(reading)
        except BaseException:
            _kill(process)
            await _drain(reading)
            raise
        exit_code = await process.wait()
        if timed_out:
            note = f"\nTimeoutError: the cell ran longer than {self._timeout_s:g} seconds and was stopped.\n"
            stderr += note.encode()
        return RunResult(
            exit_code=exit_code,
            stdout=self.to_sandbox(stdout.decode("utf-8", errors="replace"), cell),
            stderr=self.to_sandbox(stderr.decode("utf-8", errors="replace"), cell),
            timed_out=timed_out,
        )
