"""The emulator object: builds the parts, serves them on loopback, and exposes the knobs.

Two listeners: the API host (Web API, uploads, downloads, Socket Mode, response URLs) and a
CDN host on its own port — a different origin, which is what makes the download redirect test
the header-stripping that real clients do.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from types import TracebackType

import aiohttp
from aiohttp import web

from .api_chat import ChatMethods
from .api_core import WebApi
from .api_files import FileMethods
from .api_read import ReadMethods
from .config import EmulatorConfig, RetryPolicy
from .core import Core
from .dispatcher import Dispatcher
from .downloads import Downloads
from .driver import PersonActions, UserRef
from .events import EventFactory
from .filestore import FileStore
from .http_delivery import HttpTransport
from .ids import IdFactory
from .interactions import Interactions
from .models import Channel, ChannelKind, User
from .observe import Observations
from .records import Attempt, Delivery, Notifier
from .socket_mode import SocketModeServer
from .wire import Urls, Wire
from .workspace import Workspace


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, port))
    return sock


class SlackEmulator(PersonActions, Observations):
    """A loopback Slack: Web API, Events API/Socket Mode delivery, files, and a driver."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config = config or EmulatorConfig()
        ids, notifier = IdFactory(config.clock), Notifier()
        workspace = Workspace(config, ids, notifier)
        files = FileStore(ids, config.file_dir)
        urls = Urls(base="http://unstarted", cdn="http://unstarted")
        wire = Wire(workspace, files, urls)
        self._session: aiohttp.ClientSession | None = None
        self.http = HttpTransport(self._client_session, config.signing_secret, config.timestamp_skew)
        self.socket_mode = SocketModeServer(config.app_id, notifier)
        dispatcher = Dispatcher(notifier, self.http, self.socket_mode, config.retry, config.request_url)
        api = WebApi(config, workspace, notifier)
        self.core = Core(
            config,
            ids,
            notifier,
            workspace,
            files,
            urls,
            wire,
            EventFactory(config, ids, workspace, wire),
            api,
            dispatcher,
        )
        self.chat = ChatMethods(self.core)
        self.file_methods = FileMethods(self.core, self.chat)
        for methods in (self.chat, self.file_methods, ReadMethods(self.core, self.socket_mode)):
            methods.register(api)
        self.downloads = Downloads(self.core)
        self.interactions = Interactions(self.core)
        dispatcher.on_ack = self.interactions.on_ack
        self._runners: list[web.AppRunner] = []

    def _client_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    # -- lifecycle -------------------------------------------------------------------------------

    def _api_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self.core.api.handle)
        app.router.add_post("/upload/v1/{key}", self.file_methods.upload)
        app.router.add_get("/files-pri/{key}/{tail:.+}", self.downloads.primary)
        app.router.add_get("/link", self.socket_mode.handle)
        app.router.add_get("/link/", self.socket_mode.handle)
        app.router.add_post("/{kind:commands|actions}/{team}/{n}/{secret}", self.interactions.handle)
        return app

    def _cdn_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/files-pri/{key}/{tail:.+}", self.downloads.cdn)
        return app

    async def _serve(self, app: web.Application, host: str, port: int) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self._runners.append(runner)
        sock = _listen(host, port)
        await web.SockSite(runner, sock).start()
        bound = sock.getsockname()[1]
        return f"http://[{host}]:{bound}" if ":" in host else f"http://{host}:{bound}"

    async def start(self) -> SlackEmulator:
        """Start listening; :attr:`api_url` is valid afterwards."""
        self.core.urls.base = await self._serve(self._api_app(), self.config.host, self.config.port)
        self.core.urls.cdn = await self._serve(self._cdn_app(), self.config.cdn_host or self.config.host, 0)
        return self

    async def stop(self) -> None:
        """Abandon deliveries, close connections and listeners, remove stored files."""
        await self.core.dispatcher.close()
        await self.file_methods.close()
        await self.socket_mode.close()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        if self._session is not None:
            await self._session.close()
        self.core.files.close()

    async def __aenter__(self) -> SlackEmulator:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- where and who ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` of the API host."""
        return self.core.urls.base

    @property
    def api_url(self) -> str:
        """The Web API base for ``AsyncWebClient(base_url=…)`` / ``SLACK_API_URL``."""
        return f"{self.core.urls.base}/api/"

    @property
    def cdn_url(self) -> str:
        """The CDN host that download redirects point to."""
        return self.core.urls.cdn

    @property
    def bot(self) -> User:
        """The installed bot user."""
        return self.core.workspace.bot

    @property
    def bot_token(self) -> str:
        """The bot token (``xoxb-…``) the app must use."""
        return self.config.bot_token

    @property
    def app_token(self) -> str:
        """The app-level token (``xapp-…``) for Socket Mode."""
        return self.config.app_token

    @property
    def signing_secret(self) -> str:
        """The secret HTTP deliveries are signed with."""
        return self.http.signing_secret

    @signing_secret.setter
    def signing_secret(self, secret: str) -> None:
        self.http.signing_secret = secret

    # -- the workspace ---------------------------------------------------------------------------

    def add_user(self, name: str, *, real_name: str = "", is_bot: bool = False, external: bool = False) -> User:
        """A person (or another app's bot); ``external`` makes them a Slack Connect guest."""
        return self.core.workspace.add_user(name, real_name=real_name, is_bot=is_bot, external=external)

    def add_channel(
        self,
        name: str,
        *,
        kind: ChannelKind = "public",
        members: Iterable[UserRef] = (),
        bot: bool = True,
        ext_shared: bool = False,
    ) -> Channel:
        """A channel with these members; ``bot=False`` leaves the app out."""
        ids = {self.user(m).id for m in members} | ({self.bot.id} if bot else set())
        creator = next(iter(ids - {self.bot.id}), self.bot.id)
        return self.core.workspace.add_channel(name, kind, ids, creator, ext_shared=ext_shared)

    def open_dm(self, user: UserRef) -> Channel:
        """The DM between ``user`` and the bot (created on first use)."""
        return self.core.workspace.open_dm(self.user(user).id)

    # -- behaviour switches ----------------------------------------------------------------------

    def use_http(self, request_url: str) -> None:
        """Deliver over HTTP to the app's request URL."""
        self.core.dispatcher.mode, self.core.dispatcher.request_url = "http", request_url

    def use_socket_mode(self) -> None:
        """Deliver over Socket Mode (envelopes wait for a connection)."""
        self.core.dispatcher.mode = "socket_mode"

    @property
    def retry(self) -> RetryPolicy:
        """Ack timeout and retry delays in force."""
        return self.core.dispatcher.retry

    @retry.setter
    def retry(self, policy: RetryPolicy) -> None:
        self.core.dispatcher.retry = policy

    @property
    def scopes(self) -> set[str]:
        """Granted bot scopes (mutable: remove one to get ``missing_scope``)."""
        return self.core.api.scopes

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 + ``Retry-After``."""
        self.core.api.inject(method, "ratelimited", status=429, retry_after=retry_after, times=times)

    def fail(self, method: str, error: str, *, times: int = 1, status: int = 200) -> None:
        """Answer the next ``times`` calls of ``method`` with ``{"ok": false, "error": error}``."""
        self.core.api.inject(method, error, status=status, times=times)

    def refuse_set_status(self, error: str | None = "missing_scope") -> None:
        """Make ``assistant.threads.setStatus`` fail with ``error`` (None restores it)."""
        self.chat.set_status_error = error

    def redirect_downloads(self, enabled: bool = True) -> None:
        """Serve file downloads through a 302 to the CDN host."""
        self.downloads.redirect = enabled

    def stall_downloads(self, after_bytes: int) -> None:
        """Hold every file download after its first ``after_bytes`` until :meth:`resume_downloads`."""
        self.downloads.stall(after_bytes)

    def resume_downloads(self) -> None:
        """Let stalled downloads finish, and serve later ones straight through."""
        self.downloads.resume()

    def delay_shares(self, seconds: float) -> None:
        """Let file shares land ``seconds`` after ``files.completeUploadExternal`` answers."""
        self.file_methods.share_delay = seconds

    # -- delivery control ------------------------------------------------------------------------

    async def redeliver(self, delivery: Delivery, *, retry_num: int = 1, reason: str = "http_timeout") -> Attempt:
        """Send ``delivery`` again now, as retry number ``retry_num``; returns that attempt."""
        return await self.core.dispatcher.attempt(delivery, retry_num, reason)

    async def disconnect_socket(self, reason: str = "refresh_requested", *, close_after: float | None = 5.0) -> int:
        """Send Socket Mode's ``disconnect`` frame to every connection; returns how many."""
        return await self.socket_mode.send_disconnect(reason, close_after=close_after)

    async def verify_url(self) -> bool:
        """Send ``url_verification`` over HTTP; True when the app echoes the challenge."""
        challenge = self.core.ids.secret()
        delivery = Delivery(
            0,
            "events_api",
            {"token": self.config.verification_token, "challenge": challenge, "type": "url_verification"},
        )
        url = self.core.dispatcher.request_url or ""
        attempt = await self.http.attempt(url, delivery, 0, "", self.retry.ack_timeout)
        return attempt.acked and challenge in attempt.response_body
