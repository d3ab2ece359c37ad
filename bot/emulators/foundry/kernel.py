"""A container's Python kernel: one long-lived worker process whose variables outlive each cell.

The real Code Interpreter keeps a live kernel per container, so ``x = 20`` in one turn is still
there in the next. Each :class:`Kernel` starts ``kernel_worker.py`` on its first cell, sends it
cells over stdin and reads each cell's output up to the random marker the worker writes when the
cell ends (the protocol is described there). Everything is asyncio, so a running cell never blocks
the event loop. Killing the worker (time limit, cancel, expiry, delete, stop) loses its variables;
the next cell starts a fresh one, which is what a kernel restart looks like to the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

WORKER = Path(__file__).with_name("kernel_worker.py")
HEADER = struct.Struct(">I")
MAX_OUTPUT = 256 * 1024
READ_CHUNK = 64 * 1024
#: A status frame is a few bytes of JSON; anything longer means the stream is garbled.
MAX_STATUS = 4096
#: How long to wait for a killed worker's pipes to close before giving up on its last output.
DRAIN_S = 5.0

Process = asyncio.subprocess.Process


@dataclass(frozen=True)
class Outcome:
    """What one cell did, as raw bytes with host paths; ``died`` if the worker ended during it."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    died: bool = False


def _keep(kept: bytearray, chunk: bytes) -> None:
    if len(kept) < MAX_OUTPUT:
        kept += chunk[: MAX_OUTPUT - len(kept)]


async def _section(reader: asyncio.StreamReader, marker: bytes) -> tuple[bytes, bool]:
    """A stream up to ``marker``, capped at MAX_OUTPUT kept bytes; False if it ended first."""
    kept = bytearray()
    while True:
        try:
            chunk = await reader.readuntil(marker)
        except asyncio.IncompleteReadError as exc:
            _keep(kept, exc.partial)
            return bytes(kept), False
        except asyncio.LimitOverrunError as exc:
            # No marker within the reader's limit yet: keep what cannot be part of it, read on.
            _keep(kept, await reader.read(exc.consumed))
            continue
        _keep(kept, chunk[: -len(marker)])
        return bytes(kept), True


async def _status(reader: asyncio.StreamReader) -> int | None:
    """The exit code from the frame after the stdout marker; None if the worker died or garbled it."""
    try:
        (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
        if size > MAX_STATUS:
            return None
        return int(json.loads(await reader.readexactly(size))["exit_code"])
    except (asyncio.IncompleteReadError, ValueError, KeyError, TypeError):
        return None


async def _discard(reader: asyncio.StreamReader | None) -> None:
    while reader is not None and await reader.read(READ_CHUNK):
        pass


async def _exchange(process: Process, request: bytes, marker: bytes) -> tuple[bytes, bytes, int | None]:
    """Send a cell and read its stdout, stderr and exit code (None if the worker died)."""
    if process.stdin is None or process.stdout is None or process.stderr is None:
        raise RuntimeError("the kernel worker was started without its pipes")
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        process.stdin.write(request)
        await process.stdin.drain()  # a dead worker is noticed below, as the end of its output
    (stdout, ended), (stderr, _) = await asyncio.gather(
        _section(process.stdout, marker), _section(process.stderr, marker)
    )
    return stdout, stderr, await _status(process.stdout) if ended else None


async def _drain(reading: asyncio.Task[tuple[bytes, bytes, int | None]]) -> tuple[bytes, bytes]:
    """What a killed worker wrote; empty if something else still holds its pipes open."""
    try:
        stdout, stderr, _ = await asyncio.wait_for(asyncio.shield(reading), DRAIN_S)
    except (TimeoutError, asyncio.CancelledError) as exc:
        reading.cancel()
        await asyncio.wait([reading])  # so the pipes have no reader left when close() drains them
        if isinstance(exc, asyncio.CancelledError):
            raise
        return b"", b""
    return stdout, stderr


class Kernel:
    """One container's worker: started lazily, one cell at a time, killed with its process group."""

    def __init__(self, cwd: Path, *, memory_bytes: int, env: dict[str, str]) -> None:
        self._cwd = cwd
        self._memory_bytes = memory_bytes
        self._env = env
        self._process: Process | None = None
        self._killed: list[Process] = []
        self._lock = asyncio.Lock()
        self._closed = False

    async def run(self, code: str, filename: str, timeout_s: float) -> Outcome:
        """Run ``code`` to completion, to ``timeout_s``, or until this task is cancelled."""
        async with self._lock:
            process = await self._worker()
            if process is None:
                return Outcome(None, b"", b"KernelShutDown: this container's kernel has been shut down.\n")
            marker = f"\x00end-of-cell-{secrets.token_hex(16)}\x00".encode()
            body = json.dumps({"code": code, "filename": filename, "marker": marker.decode()}).encode()
            reading = asyncio.create_task(_exchange(process, HEADER.pack(len(body)) + body, marker))
            try:
                stdout, stderr, exit_code = await asyncio.wait_for(asyncio.shield(reading), timeout_s)
            except TimeoutError:
                self._kill(process)
                stdout, stderr = await _drain(reading)
                return Outcome(await process.wait(), stdout, stderr, timed_out=True)
            except BaseException:
                self._kill(process)
                await _drain(reading)
                await process.wait()  # reaped before the cancel completes
                raise
            if exit_code is None:
                self._kill(process)
                return Outcome(await process.wait(), stdout, stderr, died=True)
            return Outcome(exit_code, stdout, stderr)

    def shutdown(self) -> None:
        """Kill the worker and never start another; for callers that cannot await."""
        self._closed = True
        if self._process is not None:
            self._kill(self._process)

    async def close(self) -> None:
        """Shut down and wait until every worker this kernel started has exited and been reaped."""
        self.shutdown()
        async with self._lock:  # a cell still draining its killed worker finishes first
            killed, self._killed = self._killed, []
            for process in killed:
                await process.wait()
                # Read to the end so the pipes close; bounded in case a stray child holds them.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.gather(_discard(process.stdout), _discard(process.stderr)), DRAIN_S)

    async def _worker(self) -> Process | None:
        """The live worker, started now if there is none (the first cell, or after a kill)."""
        if self._process is not None and self._process.returncode is None:
            return self._process
        if self._process is not None:
            self._kill(self._process)
        if self._closed:
            return None
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            str(WORKER),
            str(self._memory_bytes),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self._cwd,
            env=self._env,
            start_new_session=True,
        )
        if self._closed:  # shut down while it was starting
            self._kill(self._process)
            return None
        return self._process

    def _kill(self, process: Process) -> None:
        """SIGKILL the worker's whole process group (it and anything its cells started)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        if self._process is process:
            self._process = None
        if process not in self._killed:
            self._killed.append(process)
