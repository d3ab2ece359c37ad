"""Which files a turn generated: every citation in every message part, then the sandbox listing.

Models cite unevenly (samples read only the last annotation; a model may mention a sandbox link
without citing it), so citations are only the first source: each container the turn used is
listed too, and every file the assistant wrote that this thread has not seen yet counts.

Only the containers this turn's code ran in (as Foundry reports its code calls) are read. A
citation carries its own container id; one naming any other container, which Foundry is not
known to produce, is not followed (defence in depth: one thread's files never reach another).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from bot.errors import FoundryError
from bot.foundry.client import Foundry
from bot.foundry.models import Response

logger = logging.getLogger(__name__)

_ASKS_FOR_FILE = re.compile(
    r"\b(plot|chart|graph|figure|diagram|visuali[sz]|image|png|jpe?g|svg|pdf|csv|xlsx|excel|spreadsheet|"
    r"file|download|export|save)\w*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Generated:
    """A file the sandbox holds for this turn."""

    container_id: str
    file_id: str
    filename: str


@dataclass(frozen=True)
class Collected:
    """What :func:`collect` found: the turn's new files, and the names of cited files it did not
    follow (their container is not one this turn's code ran in)."""

    files: list[Generated]
    not_followed: list[str]


async def collect(foundry: Foundry, response: Response, containers: Sequence[str], seen: Collection[str]) -> Collected:
    """The turn's new files: cited ones first (in citation order), then any others the listing shows.

    ``containers`` are those the turn ran in (its code calls' are added); a citation of any other
    container is not followed.
    """
    ran_in = _ran_in(response, containers)
    found: dict[str, Generated] = {}
    not_followed: dict[str, str] = {}
    for citation in response.citations:
        if citation.container_id not in ran_in:
            logger.warning(
                "did not follow a citation of %s in %s: no code of this turn ran there",
                citation.file_id,
                citation.container_id,
            )
            not_followed.setdefault(citation.file_id, citation.filename)
            continue
        found.setdefault(citation.file_id, Generated(citation.container_id, citation.file_id, citation.filename))
    for container_id in ran_in:
        try:
            listing = await foundry.list_container_files(container_id)
        except FoundryError as exc:  # the listing is a fallback; cited files are still fetched
            logger.info("could not list %s: %s", container_id, exc)
            continue
        for item in listing:
            if item.source == "assistant" and item.id not in found:
                found[item.id] = Generated(container_id, item.id, item.filename)
    return Collected([g for g in found.values() if g.file_id not in seen], list(not_followed.values()))


def may_have_files(response: Response, containers: Sequence[str]) -> bool:
    """Whether :func:`collect` could find anything: a citation, or a sandbox the turn used."""
    return bool(response.citations) or bool(_ran_in(response, containers))


def asks_for_file(question: str) -> bool:
    """Whether the question asked for a chart or a file (so getting none deserves a word)."""
    return bool(_ASKS_FOR_FILE.search(question))


def _ran_in(response: Response, containers: Sequence[str]) -> list[str]:
    """The containers the turn's code ran in: those given, then its code calls' (not its citations')."""
    ordered = [*containers, *(call.container_id for call in response.code_calls if call.container_id)]
    return list(dict.fromkeys(ordered))
