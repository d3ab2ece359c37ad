"""The emulator itself: wires the routes into one aiohttp app served on a loopback port."""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from pathlib import Path
from types import TracebackType

from aiohttp import web

from bot.emulators.foundry.agents import AgentRoutes
from bot.emulators.foundry.auth import AI_RESOURCE, IdentityRoutes, TokenIssuer
from bot.emulators.foundry.config import EmulatorConfig
from bot.emulators.foundry.containers import ContainerRoutes
from bot.emulators.foundry.control import ControlRoutes
from bot.emulators.foundry.conversations import ConversationRoutes
from bot.emulators.foundry.faults import FaultRegistry
from bot.emulators.foundry.files import FileRoutes
from bot.emulators.foundry.generation import Generator
from bot.emulators.foundry.pipeline import IDENTITY_ROUTE, Pipeline
from bot.emulators.foundry.recording import RecordedRequest
from bot.emulators.foundry.responses import ResponseRoutes
from bot.emulators.foundry.routing import RouteTable
from bot.emulators.foundry.sandbox import Sandboxes
from bot.emulators.foundry.state import EmulatorState

#: JSON bodies (conversation items, long prompts) may be large; uploads are streamed regardless.
MAX_JSON_BODY = 32 * 1024 * 1024


class FoundryEmulator:
    """A loopback Microsoft Foundry project: agents, files, conversations, responses, containers.

    Use it as ``async with FoundryEmulator(config) as emu:`` (or ``start``/``stop``), point a
    client at ``emu.endpoint``, and get tokens from ``emu.identity_endpoint`` (App Service
    managed-identity protocol, secret ``emu.identity_header``) or from ``emu.issue_token()``.
    """

    def __init__(self, config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or EmulatorConfig()
        self.host = host
        self.identity_header = secrets.token_urlsafe(24)
        self.faults = FaultRegistry()
        self.requests: list[RecordedRequest] = []
        self._requested_port = port
        self._port: int | None = None
        self._issuer = TokenIssuer(self.config.clock, self.config.token_lifetime_s)
        self._state: EmulatorState | None = None
        self._sandboxes: Sandboxes | None = None
        self._generator: Generator | None = None
        self._runner: web.AppRunner | None = None

    # -- addresses -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("the emulator is not running; call start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    @property
    def endpoint(self) -> str:
        """The project endpoint, like ``https://<account>.services.ai.azure.com/api/projects/<project>``."""
        return f"{self.base_url}/api/projects/{self.config.project}"

    @property
    def identity_endpoint(self) -> str:
        """Where ``IDENTITY_ENDPOINT`` should point for azure-identity's managed-identity flow."""
        return f"{self.base_url}/msi/token"

    def environment(self) -> dict[str, str]:
        """Environment variables that point azure-identity and the bot at this emulator."""
        return {
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
            "AZURE_AI_PROJECT_ENDPOINT": self.endpoint,
        }

    # -- test controls ---------------------------------------------------------------------

    @property
    def state(self) -> EmulatorState:
        """The in-memory project, for tests that need to look deeper."""
        if self._state is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return self._state

    def issue_token(self, resource: str = AI_RESOURCE, lifetime_s: float | None = None) -> str:
        """A bearer token, as the identity endpoint would issue it."""
        return self._issuer.issue(resource, lifetime_s)[0]

    def counters(self) -> dict[str, int]:
        """Live agent versions, conversations, files and (unexpired, undeleted) containers."""
        self._require_sandboxes().sweep_now()
        return self.state.counters()

    def peak_responses_in_progress(self) -> int:
        """The most responses that were ever generating at once (concurrent sandbox sessions)."""
        return self.state.peak_in_progress

    def stored_file_sha256(self, file_id: str) -> str:
        """The sha256 of an uploaded file's bytes as stored (KeyError if there is no such file)."""
        return self.state.files[file_id].sha256

    def expire_containers(self, conversation_id: str | None = None) -> list[str]:
        """Expire every live container now (or only the conversation's); returns their ids."""
        return self._require_sandboxes().expire_now(conversation_id)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the state folder and start serving."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        root = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="foundry-emulator-"))
        state = EmulatorState(root)
        await asyncio.to_thread(state.uploads_dir.mkdir)
        await asyncio.to_thread(state.containers_dir.mkdir)
        self._state = state
        self._sandboxes = Sandboxes(state, self.config)
        self._generator = Generator(self.config, self._sandboxes)
        runner = web.AppRunner(self._build_app(), handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            await asyncio.to_thread(state.remove_all)
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Cancel running responses, stop serving and delete every temp folder."""
        if self._runner is None:
            return
        if self._generator is not None and self._state is not None:
            for record in list(self._state.responses.values()):
                await self._generator.cancel(record)
        await self._runner.cleanup()
        self._runner = None
        self._port = None
        if self._sandboxes is not None:
            await self._sandboxes.close()
        if self._state is not None:
            await asyncio.to_thread(self._state.remove_all)

    async def __aenter__(self) -> FoundryEmulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def _require_sandboxes(self) -> Sandboxes:
        if self._sandboxes is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return self._sandboxes

    def _build_app(self) -> web.Application:
        state, sandboxes, generator = self.state, self._require_sandboxes(), self._generator
        assert generator is not None
        table = RouteTable(f"/api/projects/{self.config.project}")
        AgentRoutes(state, self.config).register(table)
        FileRoutes(state, self.config).register(table)
        ConversationRoutes(state, self.config).register(table)
        ResponseRoutes(state, self.config, generator, self.faults).register(table)
        ContainerRoutes(state, self.config, sandboxes).register(table)
        app = web.Application(client_max_size=MAX_JSON_BODY)
        names = table.install(app)
        identity = IdentityRoutes(self._issuer, self.identity_header)
        names[app.router.add_get("/msi/token", identity.token)] = IDENTITY_ROUTE
        ControlRoutes(state, sandboxes, self.faults, self.requests).register(app)
        app.middlewares.append(
            Pipeline(
                names=names, issuer=self._issuer, faults=self.faults, log=self.requests, before_each=sandboxes.sweep
            )
        )
        return app
