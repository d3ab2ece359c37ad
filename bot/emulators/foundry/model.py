"""The scripted model: decides what code to run for a prompt and words the answer.

Deterministic on purpose. Fenced ```python blocks in the prompt run as written, in order;
otherwise keywords pick a recipe ("plot"/"chart", "describe"/"summary", "list files"); anything
else gets a short text answer without code. The answer reports each run and links every new or
changed file as ``[name](sandbox:/mnt/data/name)`` with a ``container_file_citation`` whose
``start_index``/``end_index`` span exactly the ``sandbox:/mnt/data/name`` part.

Real models are less tidy about citations, so a prompt can ask for the untidy cases a client must
survive: ``[cite: none]`` links the files without annotations, ``[cite: twice]`` links and cites
each file twice, ``[cite: silent]`` neither links nor cites them (they are only in the listing).
``[cite: cntr_…/cfile_…]`` also cites that file of that container, whichever conversation it
belongs to. Foundry builds citations itself and is not known to name a container the turn did
not run in; the directive stands for a service (or model) that does, which a client must not
follow into another conversation's sandbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.emulators.foundry import recipes
from bot.emulators.foundry.runner import RunResult
from bot.emulators.foundry.state import MOUNT_POINT, ContainerFile, Json

CITE_STYLE = re.compile(r"\[cite:\s*(none|twice|silent)\]", re.IGNORECASE)
CITE_ANY = re.compile(r"\[cite:\s*(cntr_\w+)/(cfile_\w+)\]")
FENCED_PYTHON = re.compile(r"```[ \t]*(?:python3?|py)[^\n]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9_]+")
_RECIPES = (
    (re.compile(r"\b(plot|chart|graph)", re.IGNORECASE), "plot"),
    (re.compile(r"\b(describe|summary|summari[sz]e|statistics)\b", re.IGNORECASE), "describe"),
    (re.compile(r"\b(list|show|what)\s+(the\s+)?files\b", re.IGNORECASE), "list_files"),
)
NO_TOOL_REPLY = "Code Interpreter is not enabled for this agent, so I can't run code or open files."
SMALL_TALK_REPLY = (
    "I'm the emulator's scripted model. Send a ```python block to run it, or ask me to plot or chart "
    "a table, describe or summarise it, or list files."
)
MAX_EXCERPT_LINES = 20
MAX_EXCERPT_CHARS = 1500


@dataclass(frozen=True)
class Plan:
    """The cells to run, or the reply to give when there is no code."""

    cells: list[str]
    reply: str = ""


@dataclass(frozen=True)
class Cell:
    """A cell after it ran, with the files it created or changed."""

    code: str
    result: RunResult
    files: list[ContainerFile] = field(default_factory=list)


def plan(prompt: str, *, code_interpreter: bool) -> Plan:
    """What the model does with ``prompt``."""
    if not code_interpreter:
        return Plan([], NO_TOOL_REPLY)
    fenced = [block.strip("\n") + "\n" for block in FENCED_PYTHON.findall(prompt) if block.strip()]
    if fenced:
        return Plan(fenced)
    cells: list[str] = []
    for pattern, recipe in _RECIPES:
        if pattern.search(prompt):
            if recipe == "plot":
                cells.append(recipes.plot(set(_WORD.findall(prompt.lower()))))
            elif recipe == "describe":
                cells.append(recipes.describe())
            else:
                cells.append(recipes.list_files())
    return Plan(cells) if cells else Plan([], SMALL_TALK_REPLY)


def _excerpt(text: str) -> str:
    lines = text.strip("\n").splitlines()
    shown = "\n".join(lines[:MAX_EXCERPT_LINES])
    if len(shown) > MAX_EXCERPT_CHARS:
        shown = shown[:MAX_EXCERPT_CHARS]
    return shown + ("\n…" if shown != text.strip("\n") else "")


def _report(cell: Cell, label: str) -> str:
    result = cell.result
    if result.timed_out:
        return f"I stopped {label} because it hit the sandbox's time limit."
    if not result.ok:
        return f"Running {label} failed: `{result.error_line()}`"
    if not result.stdout.strip():
        return f"I ran {label}; it printed nothing."
    return f"I ran {label}. Output:\n```\n{_excerpt(result.stdout)}\n```"


def cite_style(prompt: str) -> str:
    """How the prompt asks files to be cited: normal, none, twice or silent."""
    match = CITE_STYLE.search(prompt)
    return match[1].lower() if match else "normal"


def cite_foreign(prompt: str, text: str, annotations: list[Json]) -> tuple[str, list[Json]]:
    """``text`` and ``annotations`` with a link and a citation for each ``[cite: cntr_…/cfile_…]`` of the prompt."""
    annotations = list(annotations)
    for container_id, file_id in CITE_ANY.findall(prompt):
        name = f"{file_id}.png"
        target = f"sandbox:{MOUNT_POINT}/{name}"
        text += f"\n- [{name}]("
        start = len(text)
        text += target + ")"
        annotations.append(
            {
                "type": "container_file_citation",
                "container_id": container_id,
                "file_id": file_id,
                "filename": name,
                "start_index": start,
                "end_index": start + len(target),
            }
        )
    return text, annotations


def answer(cells: list[Cell], container_id: str, style: str = "normal") -> tuple[str, list[Json]]:
    """The answer text and its ``container_file_citation`` annotations."""
    labels = ["the code"] if len(cells) == 1 else [f"cell {n}" for n in range(1, len(cells) + 1)]
    text = "\n\n".join(_report(cell, label) for cell, label in zip(cells, labels, strict=True))
    latest = {f.name: f for cell in cells for f in cell.files}
    annotations: list[Json] = []
    if latest and style != "silent":
        text += "\n\nFiles:"
        for name, record in sorted(latest.items()) * (2 if style == "twice" else 1):
            target = f"sandbox:{MOUNT_POINT}/{name}"
            text += f"\n- [{name.rsplit('/', 1)[-1]}]("
            start = len(text)
            text += target + ")"
            if style == "none":
                continue
            annotations.append(
                {
                    "type": "container_file_citation",
                    "container_id": container_id,
                    "file_id": record.id,
                    "filename": name.rsplit("/", 1)[-1],
                    "start_index": start,
                    "end_index": start + len(target),
                }
            )
    return text, annotations


def count_tokens(text: str) -> int:
    """A stand-in tokenizer: one token per whitespace-separated word."""
    return len(text.split())


def usage(input_text: str, output_text: str) -> Json:
    """A usage block with every field the official client's ``ResponseUsage`` requires."""
    input_tokens, output_tokens = count_tokens(input_text), count_tokens(output_text)
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def chunks(text: str, size: int = 24) -> list[str]:
    """Pieces of ``text`` for streaming deltas (the concatenation is exactly ``text``)."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
