"""What the model is told each turn: the question, and the thread's files in the sandbox.

Files reach ``/mnt/data`` through the agent's file slots, possibly under a prefixed name, so the
model is told their names and asked to list the folder rather than assume exact paths.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.files.names import safe_name
from storage.records import StoredFile


def turn_input(question: str, files: Sequence[StoredFile]) -> str:
    """The input text of one turn."""
    if not files:
        return question
    names = ", ".join(safe_name(f.name) for f in files)
    note = (
        f"[Files shared in this thread, available under /mnt/data: {names}. "
        "List /mnt/data first; names there may carry a prefix.]"
    )
    return f"{question}\n\n{note}"


SANDBOX_RESTARTED = (
    ":arrows_counterclockwise: The sandbox was restarted (sessions end after an hour, or 30 minutes idle). "
    "I re-attached this thread's files, but variables from earlier runs are gone."
)
