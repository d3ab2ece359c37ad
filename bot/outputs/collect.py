"""Which files a turn generated: every citation in every message part, then the sandbox listing.

Models cite unevenly (samples read only the last annotation; a model may mention a sandbox link
without citing it), so citations are only the first source: each container the turn used is
listed too, and every file the assistant wrote that this thread has not seen yet counts.

Only containers this thread's own code ran in are read. A citation can name any container, and
a model can be talked into naming another thread's (by a document it was given, say); such a
citation is ignored, so one thread's files never reach another.
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


async def collect(
    foundry: Foundry,
    response: Response,
    containers: Sequence[str],
    seen: Collection[str],
    *,
    earlier: Collection[str] = (),
) -> list[Generated]:
    """The turn's new files: cited ones first (in citation order), then any others the listing shows.

    ``containers`` are those the turn ran in (its code calls' are added); ``earlier``, those the
    thread's earlier turns ran in. A citation of any other container is ignored.
    """
    ran_in = _ran_in(response, containers)
    allowed = {*ran_in, *earlier}
    found: dict[str, Generated] = {}
    for citation in response.citations:
        if citation.container_id not in allowed:
            logger.warning(
                "ignored a citation of %s in %s: no code of this thread ran there",
                citation.file_id,
                citation.container_id,
            )
            continue
        found.setdefault(citation.file_id, Generated(citation.container_id, citation.file_id, citation.filename))
    cited = [g.container_id for g in found.values()]
    for container_id in dict.fromkeys([*ran_in, *cited]):
        try:
            listing = await foundry.list_container_files(container_id)
        except FoundryError as exc:  # the listing is a fallback; cited files are still fetched
            logger.info("could not list %s: %s", container_id, exc)
            continue
        for item in listing:
            if item.source == "assistant" and item.id not in found:
                found[item.id] = Generated(container_id, item.id, item.filename)
    return [g for g in found.values() if g.file_id not in seen]


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
