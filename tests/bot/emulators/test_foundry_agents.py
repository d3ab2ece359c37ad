"""The agents API: api-version, definition checks, versions listed newest first, deletes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot.emulators.foundry import FoundryEmulator

from .conftest import AGENT, agent_definition, create_agent

V1 = {"api-version": "v1"}


@pytest.mark.parametrize("params", [{}, {"api-version": "2025-11-15-preview"}], ids=["missing", "preview"])
async def test_agents_api_requires_api_version_v1(http: httpx.AsyncClient, params: dict[str, str]) -> None:
    """Every agents call without api-version=v1 is a 400 with the Foundry error body."""
    response = await http.post(f"/agents/{AGENT}/versions", params=params, json={"definition": agent_definition()})
    assert response.status_code == 400
    error = response.json()["error"]
    assert {"code", "message", "param", "type", "details", "additionalInfo"} == set(error)
    assert error["param"] == "api-version"


async def test_openai_routes_ignore_api_version(http: httpx.AsyncClient) -> None:
    """The /openai/v1 routes answer with or without an api-version query."""
    response = await http.get("/openai/v1/conversations", params={"api-version": "preview"})
    assert response.status_code == 200


async def test_versions_count_up_and_list_newest_first(http: httpx.AsyncClient) -> None:
    """Each create makes the next version; the list pages newest first with first_id/last_id/has_more."""
    made = [await create_agent(http) for _ in range(3)]
    assert [f"{AGENT}:1", f"{AGENT}:2", f"{AGENT}:3"] == [v["id"] for v in made]
    assert {"agent.version"} == {v["object"] for v in made}
    page = (await http.get(f"/agents/{AGENT}/versions", params={**V1, "limit": 2})).json()
    assert (["3", "2"], f"{AGENT}:3", f"{AGENT}:2", True) == (
        [v["version"] for v in page["data"]],
        page["first_id"],
        page["last_id"],
        page["has_more"],
    )
    rest = (await http.get(f"/agents/{AGENT}/versions", params={**V1, "after": page["last_id"]})).json()
    assert ([v["version"] for v in rest["data"]], rest["has_more"]) == (["1"], False)
    oldest = (await http.get(f"/agents/{AGENT}/versions", params={**V1, "order": "asc", "limit": 1})).json()
    assert [v["version"] for v in oldest["data"]] == ["1"]


async def test_version_keeps_metadata_and_structured_inputs(http: httpx.AsyncClient) -> None:
    """A version stores description, metadata and the structured-input defaults it was given."""
    body = {"definition": agent_definition(), "description": "Slack data helper", "metadata": {"app": "slackbot"}}
    await http.post(f"/agents/{AGENT}/versions", params=V1, json=body)
    got = (await http.get(f"/agents/{AGENT}/versions/1", params=V1)).json()
    assert (got["description"], got["metadata"]) == ("Slack data helper", {"app": "slackbot"})
    assert got["definition"]["structured_inputs"]["f1"]["default_value"] == ""
    assert isinstance(got["created_at"], int)


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"kind": "hosted"}, "definition.kind"),
        ({"model": ""}, "definition.model"),
        ({"tools": [{"type": "code_interpreter", "container": {"type": "manual"}}]}, "definition.tools[0].container"),
        (
            {"tools": [{"type": "code_interpreter", "container": {"type": "auto", "file_ids": "x"}}]},
            "definition.tools[0].container.file_ids",
        ),
        ({"tools": [{"name": "no type"}]}, "definition.tools[0]"),
        ({"structured_inputs": {}}, "definition.structured_inputs"),
    ],
    ids=["kind", "model", "container", "file-ids", "tool-type", "undefined-slot"],
)
async def test_bad_definitions_are_refused(http: httpx.AsyncClient, change: dict[str, Any], param: str) -> None:
    """A definition that is not a valid prompt agent is a 400 invalid_payload naming the field."""
    response = await http.post(f"/agents/{AGENT}/versions", params=V1, json={"definition": agent_definition(**change)})
    assert response.status_code == 400
    assert ("invalid_payload", param) == (response.json()["error"]["code"], response.json()["error"]["param"])


async def test_metadata_is_limited_to_sixteen_pairs(http: httpx.AsyncClient) -> None:
    """More than 16 metadata pairs are refused."""
    metadata = {f"k{n}": "v" for n in range(17)}
    response = await http.post(
        f"/agents/{AGENT}/versions", params=V1, json={"definition": agent_definition(), "metadata": metadata}
    )
    assert response.status_code == 400


async def test_deletes_return_documented_bodies_then_404(http: httpx.AsyncClient, emulator: FoundryEmulator) -> None:
    """Deleting a version and then the agent answers deleted:true, and both are 404 afterwards."""
    await create_agent(http)
    await create_agent(http)
    assert emulator.counters()["agent_versions"] == 2
    gone = (await http.delete(f"/agents/{AGENT}/versions/1", params=V1)).json()
    assert gone == {"object": "agent.version.deleted", "name": AGENT, "version": "1", "deleted": True}
    assert (await http.get(f"/agents/{AGENT}/versions/1", params=V1)).status_code == 404
    assert (await http.delete(f"/agents/{AGENT}", params=V1)).json() == {
        "object": "agent.deleted",
        "name": AGENT,
        "deleted": True,
    }
    assert (await http.get(f"/agents/{AGENT}/versions", params=V1)).status_code == 404
    assert emulator.counters()["agent_versions"] == 0


async def test_unknown_paths_and_methods_get_the_error_body(http: httpx.AsyncClient) -> None:
    """A path or method the service does not have is a 404 or 405 in the Foundry error shape."""
    missing = await http.get("/openai/v1/vector_stores")
    wrong_method = await http.put("/openai/v1/conversations")
    assert (missing.status_code, wrong_method.status_code) == (404, 405)
    assert missing.json()["error"]["code"] == "not_found"
    assert wrong_method.json()["error"]["additionalInfo"]["request_id"] == wrong_method.headers["x-request-id"]
