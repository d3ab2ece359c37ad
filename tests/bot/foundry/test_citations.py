"""The emulator's untidy-citation modes, seen through the bot's client: what the outputs code must survive."""

from __future__ import annotations

from bot.agent import ensure_agent
from bot.emulators.foundry import FoundryEmulator
from bot.foundry.client import FoundryClient, ResponseRequest

from .conftest import settings_for

WRITE = "```python\nopen('/mnt/data/out.txt', 'w').write('x')\n```"


async def run(foundry: FoundryClient, emulator: FoundryEmulator, text: str):  # type: ignore[no-untyped-def]
    agent = await ensure_agent(foundry, settings_for(emulator))
    conversation = await foundry.create_conversation({})
    return await foundry.create_response(
        ResponseRequest(
            agent_name=agent.name,
            agent_version=agent.version,
            conversation_id=conversation.id,
            input=text,
            structured_inputs=agent.slot_inputs([]),
        )
    )


async def test_normal_citation(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """By default each new file is linked once and cited once."""
    response = await run(foundry, emulator, WRITE)
    citations = [c for m in response.messages for p in m.texts for c in p.citations]
    assert [c.filename for c in citations] == ["out.txt"]
    assert response.text[citations[0].start_index : citations[0].end_index] == "sandbox:/mnt/data/out.txt"


async def test_cite_twice(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """[cite: twice] cites the same file twice; the response's citations list it once."""
    response = await run(foundry, emulator, "[cite: twice] " + WRITE)
    raw = [c for m in response.messages for p in m.texts for c in p.citations]
    assert len(raw) == 2
    assert len({c.file_id for c in raw}) == 1
    assert len(response.citations) == 1


async def test_cite_none_and_silent(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """[cite: none] links without annotations; [cite: silent] does not even link."""
    linked = await run(foundry, emulator, "[cite: none] " + WRITE)
    assert linked.citations == []
    assert "sandbox:/mnt/data/out.txt" in linked.text
    silent = await run(foundry, emulator, "[cite: silent] " + WRITE)
    assert silent.citations == []
    assert "sandbox:" not in silent.text
