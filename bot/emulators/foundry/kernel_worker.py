"""The sandbox's Python kernel: runs cells one after another in one namespace that lives on.

The real Code Interpreter keeps a Jupyter kernel per container, so a name one cell defines is
still there in the next turn. This script is that kernel's stand-in. ``kernel.py`` starts it
with the container's data folder as its working directory; it needs nothing but the standard
library, so it runs under ``python -I`` with no path back to the emulator.

Protocol. Each cell arrives on stdin as a 4-byte big-endian length and a UTF-8 JSON object
``{"code", "filename", "marker"}``. The cell writes to fds 1 and 2 as it runs, so output from C
code and child processes is caught too. When it ends, the kernel writes its traceback (if any)
and then ``marker`` to stderr, and ``marker``, a length and JSON ``{"exit_code"}`` to stdout,
each marker write small enough to be atomic. The emulator reads each stream up to the marker,
which is random per cell, so nothing a cell prints can be taken for the end of it.
"""

import builtins
import json
import linecache
import os
import resource
import struct
import sys
import traceback
import types
from typing import Any

HEADER = struct.Struct(">I")


def _read_exactly(fd: int, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _receive(fd: int) -> dict[str, Any] | None:
    """The next cell, or None once the emulator has closed the pipe."""
    header = _read_exactly(fd, HEADER.size)
    payload = _read_exactly(fd, HEADER.unpack(header)[0]) if header is not None else None
    return None if payload is None else dict(json.loads(payload))


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _namespace() -> dict[str, Any]:
    """Globals shared by every cell, installed as ``__main__`` so pickling what cells define works."""
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = module
    return module.__dict__


def _exit_status(exc: SystemExit) -> tuple[int, str]:
    """What ``sys.exit`` in a cell reports, as a script's exit would; the kernel itself carries on."""
    if exc.code is None:
        return 0, ""
    if isinstance(exc.code, int):
        return exc.code, ""
    return 1, f"{exc.code}\n"


def _run(code: str, filename: str, namespace: dict[str, Any]) -> tuple[int, str]:
    """Run one cell as a module-level script; its exit code and traceback text."""
    # Tracebacks and inspect find the source here, as they would for a file on disk.
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    try:
        compiled = compile(code, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        return 1, "".join(traceback.format_exception_only(type(exc), exc))
    try:
        exec(compiled, namespace)  # noqa: S102 - running the user's cell is the point
    except SystemExit as exc:
        return _exit_status(exc)
    except BaseException as exc:  # noqa: BLE001 - a cell's failure is reported, never fatal
        # Skip this function's frame, so the traceback starts in the cell like a script's.
        cell_frames = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        return 1, "".join(traceback.format_exception(type(exc), exc, cell_frames))
    return 0, ""


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass  # a cell closed or replaced it; nothing left to flush


def main() -> None:
    """Serve cells until stdin closes; the emulator kills the process group to stop it sooner."""
    memory_limit = int(sys.argv[1])
    commands = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # a cell that reads stdin sees it empty, not the protocol
    os.close(devnull)
    # Private copies of the pipes: a cell that redirects fds 1 and 2 cannot break the protocol.
    out, err = os.dup(1), os.dup(2)
    sys.argv = [""]
    namespace = _namespace()
    if memory_limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    while (cell := _receive(commands)) is not None:
        exit_code, report = _run(cell["code"], cell["filename"], namespace)
        _flush()
        marker = cell["marker"].encode()
        _write(err, report.encode("utf-8", "backslashreplace"))
        _write(err, marker)
        status = json.dumps({"exit_code": exit_code}).encode()
        _write(out, marker + HEADER.pack(len(status)) + status)


if __name__ == "__main__":
    main()
