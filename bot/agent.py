"""The deployment's Foundry agent: one prompt agent with Code Interpreter and N file slots.

Files reach the sandbox through structured inputs: the agent's code interpreter tool declares
``file_ids: ["{{f1}}", …, "{{fN}}"]`` with empty defaults, and every turn passes the thread's
file ids, so a recycled sandbox gets them back. Versions are immutable, so at start-up we reuse
the newest version whose definition hash matches the settings and create one only on change.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.config import Settings
from bot.foundry.client import Foundry
from bot.foundry.models import AgentVersion

logger = logging.getLogger(__name__)

HASH_KEY = "definition_sha256"
DEPLOYMENT_KEY = "deployment"

INSTRUCTIONS = """\
You are a data analyst working inside a Slack thread.
Use the python tool for any calculation, data work or chart.
Files people shared are under /mnt/data. List that folder before you use them: names may carry a
prefix, so never assume an exact path.
Save every chart or file you produce under /mnt/data and link it in your answer as
[name](sandbox:/mnt/data/name).
Keep answers short; Slack renders Markdown."""


class AgentRef(BaseModel):
    """The agent version a deployment runs its turns on."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    slots: int

    def slot_inputs(self, file_ids: list[str]) -> dict[str, str]:
        """Structured inputs naming ``file_ids`` in the slots; unused slots are sent empty."""
        if len(file_ids) > self.slots:
            raise ValueError(f"{len(file_ids)} files do not fit in {self.slots} slots")
        padded = [*file_ids, *([""] * (self.slots - len(file_ids)))]
        return {slot_name(i): file_id for i, file_id in enumerate(padded, start=1)}


def slot_name(index: int) -> str:
    """The structured-input name of the 1-based slot ``index``."""
    return f"f{index}"


def agent_definition(settings: Settings) -> dict[str, Any]:
    """The prompt agent definition the settings ask for."""
    slots = range(1, settings.agent_file_slots + 1)
    return {
        "kind": "prompt",
        "model": settings.azure_ai_model_deployment_name,
        "instructions": INSTRUCTIONS,
        "tools": [
            {
                "type": "code_interpreter",
                "container": {"type": "auto", "file_ids": [f"{{{{{slot_name(i)}}}}}" for i in slots]},
            }
        ],
        "structured_inputs": {
            slot_name(i): {"description": f"file slot {i}", "default_value": "", "schema": {"type": "string"}}
            for i in slots
        },
    }


def definition_hash(definition: dict[str, Any]) -> str:
    """A stable fingerprint of a definition (key order and spacing do not matter)."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def ensure_agent(foundry: Foundry, settings: Settings) -> AgentRef:
    """Reuse the newest matching version of the agent, or create one when the definition changed."""
    definition = agent_definition(settings)
    digest = definition_hash(definition)
    match = _newest_matching(await foundry.list_agent_versions(settings.agent_name), digest)
    if match is None:
        match = await foundry.create_agent_version(
            settings.agent_name,
            definition,
            description="Code Interpreter for Slack",
            metadata={HASH_KEY: digest, DEPLOYMENT_KEY: settings.deployment},
        )
        logger.info("created agent %s version %s", match.name, match.version)
    return AgentRef(name=match.name, version=match.version, slots=settings.agent_file_slots)


def _newest_matching(versions: list[AgentVersion], digest: str) -> AgentVersion | None:
    usable = [v for v in versions if v.metadata.get(HASH_KEY) == digest and v.status in (None, "active")]
    return max(usable, key=lambda v: (v.created_at or 0, _numeric(v.version)), default=None)


def _numeric(version: str) -> int:
    return int(version) if version.isdigit() else -1
