"""The agents API (``/agents…?api-version=v1``): prompt-agent versions, listed newest first."""

from __future__ import annotations

import re

from aiohttp import web

from bot.emulators.foundry.config import EmulatorConfig
from bot.emulators.foundry.definitions import check_definition
from bot.emulators.foundry.errors import ApiError, bad_request
from bot.emulators.foundry.paging import page
from bot.emulators.foundry.routing import RouteTable
from bot.emulators.foundry.state import Agent, AgentVersion, EmulatorState
from bot.emulators.foundry.wire import metadata, ok, optional_str, read_json

AGENT_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def _agent_not_found(name: str) -> ApiError:
    return ApiError(404, f"Agent '{name}' was not found.", code="not_found")


class AgentRoutes:
    """Create, read, list and delete agent versions."""

    def __init__(self, state: EmulatorState, config: EmulatorConfig) -> None:
        self._state = state
        self._config = config

    def register(self, table: RouteTable) -> None:
        table.add("POST", "/agents/{name}/versions", "agents.create_version", self.create_version)
        table.add("GET", "/agents/{name}/versions", "agents.list_versions", self.list_versions)
        table.add("GET", "/agents/{name}/versions/{version}", "agents.get_version", self.get_version)
        table.add("DELETE", "/agents/{name}/versions/{version}", "agents.delete_version", self.delete_version)
        table.add("DELETE", "/agents/{name}", "agents.delete", self.delete)

    async def create_version(self, request: web.Request) -> web.Response:
        """Validate the definition and store it as the agent's next version."""
        name = request.match_info["name"]
        if not AGENT_NAME.fullmatch(name):
            raise bad_request(
                "Agent names start and end with a letter or digit, may contain hyphens, "
                "and have at most 63 characters.",
                param="agent_name",
            )
        body = await read_json(request)
        definition = check_definition(body.get("definition"))
        agent = self._state.agents.setdefault(name, Agent(name))
        version = AgentVersion(
            name=name,
            version=str(agent.next_version),
            created_at=self._config.now(),
            definition=definition,
            description=optional_str(body, "description", max_length=512),
            metadata=metadata(body.get("metadata")),
        )
        agent.versions[version.version] = version
        agent.next_version += 1
        return ok(version.to_json())

    async def get_version(self, request: web.Request) -> web.Response:
        return ok(self._version(request).to_json())

    async def list_versions(self, request: web.Request) -> web.Response:
        agent = self._agent(request)
        versions = sorted(agent.versions.values(), key=lambda v: int(v.version))
        listing = page(versions, request.query, key=lambda v: v.id, render=AgentVersion.to_json)
        listing.pop("object")
        return ok(listing)

    async def delete_version(self, request: web.Request) -> web.Response:
        version = self._version(request)
        agent = self._state.agents[version.name]
        del agent.versions[version.version]
        return ok(
            {"object": "agent.version.deleted", "name": version.name, "version": version.version, "deleted": True}
        )

    async def delete(self, request: web.Request) -> web.Response:
        agent = self._agent(request)
        del self._state.agents[agent.name]
        return ok({"object": "agent.deleted", "name": agent.name, "deleted": True})

    def _agent(self, request: web.Request) -> Agent:
        name = request.match_info["name"]
        agent = self._state.agents.get(name)
        if agent is None:
            raise _agent_not_found(name)
        return agent

    def _version(self, request: web.Request) -> AgentVersion:
        agent = self._agent(request)
        wanted = request.match_info["version"]
        version = agent.versions.get(wanted) or agent.versions.get(wanted.rpartition(":")[2])
        if version is None:
            raise ApiError(404, f"Version '{wanted}' of agent '{agent.name}' was not found.", code="not_found")
        return version
