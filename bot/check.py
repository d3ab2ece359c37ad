"""``python -m bot check``: can this deployment work? A report a person can act on.

Checks, in order: the settings; Slack (``auth.test`` and the granted scopes against the ones
``manifest.yml`` asks for; in Socket Mode, that the app-level token may open a connection);
Foundry (a token from the credential chain, then the agent); the database (opened and migrated).
Each line says what was found and, when it is wrong, what to do; a service that can't be reached
is one such line, and the checks after it still run.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from bot.agent import agent_definition, definition_hash
from bot.config import Settings
from bot.errors import BotError, FoundryUnavailable
from bot.foundry.connect import open_foundry
from bot.manifest import BOT_SCOPES
from bot.slack.client import REINSTALL_ADVICE, TOKEN_REFUSALS, UNREACHABLE, build_web_client, open_socket_mode_url
from storage import CleanupState, open_store
from storage.url import parse_database_url


@dataclass(frozen=True)
class Finding:
    """One line of the report."""

    ok: bool
    area: str
    text: str
    #: The service could not be reached at all (no answer, not a refusal).
    unreachable: bool = False

    def line(self) -> str:
        """The line as printed."""
        return f"{'ok ' if self.ok else 'FAIL'} {self.area}: {self.text}"


async def run_checks(settings: Settings) -> list[Finding]:
    """Every check, each independent of the others' outcome."""
    findings = [Finding(True, "settings", f"loaded ({'Socket Mode' if settings.socket_mode else 'HTTP mode'})")]
    slack = await check_slack(settings)
    findings += slack
    if not any(f.unreachable for f in slack):  # said once is enough
        findings += await check_socket_mode(settings)
    findings += await check_foundry(settings)
    findings += await check_database(settings)
    return findings


async def check_slack(settings: Settings) -> list[Finding]:
    """The token works, and every scope the manifest asks for was granted."""
    client = build_web_client(settings)
    try:
        response = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error")
        return [
            Finding(
                False,
                "slack",
                f"auth.test refused the bot token ({error}); {REINSTALL_ADVICE}",
            )
        ]
    except UNREACHABLE as exc:
        return [_unreachable(settings, exc)]
    granted = {s.strip() for s in str(response.headers.get("x-oauth-scopes", "")).split(",") if s.strip()}
    found = [Finding(True, "slack", f"connected to {response.get('team')} as @{response.get('user')}")]
    missing = sorted(set(BOT_SCOPES) - granted)
    if missing:
        found.append(
            Finding(
                False,
                "slack",
                f"missing scopes: {', '.join(missing)}; add them under OAuth & "
                "Permissions (or recreate the app from manifest.yml) and reinstall",
            )
        )
    else:
        found.append(Finding(True, "slack", f"all {len(BOT_SCOPES)} scopes in manifest.yml are granted"))
    return found


async def check_socket_mode(settings: Settings) -> list[Finding]:
    """In Socket Mode, the app-level token may open a connection (the URL it gets is left unused)."""
    if settings.slack_app_token is None:
        return []
    try:
        await open_socket_mode_url(settings.slack_app_token.get_secret_value(), settings.slack_api_url)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error not in TOKEN_REFUSALS:
            return [Finding(False, "slack", f"apps.connections.open failed ({error}); try again in a few minutes")]
        return [
            Finding(
                False,
                "slack",
                f"apps.connections.open refused the app-level token ({error}); under Basic Information, "
                "create an app-level token with connections:write and copy it into SLACK_APP_TOKEN",
            )
        ]
    except UNREACHABLE as exc:
        return [_unreachable(settings, exc)]
    return [Finding(True, "slack", "the app-level token opens Socket Mode connections")]


def _unreachable(settings: Settings, exc: BaseException) -> Finding:
    return Finding(
        False,
        "slack",
        f"could not reach {settings.slack_api_url} ({type(exc).__name__}); check the network, a proxy "
        "or firewall in between, and SLACK_API_URL",
        unreachable=True,
    )


async def check_foundry(settings: Settings) -> list[Finding]:
    """A token can be had, and the agent is (or can be) provisioned."""
    try:
        async with open_foundry(settings) as foundry:
            versions = await foundry.list_agent_versions(settings.agent_name)
    except FoundryUnavailable as exc:
        if exc.status is not None:  # it answered, with 5xx: Foundry's side, not the way to it
            return [Finding(False, "foundry", f"{exc.user_message} ({exc})")]
        return [
            Finding(
                False,
                "foundry",
                f"no answer from {settings.azure_ai_project_endpoint} ({exc}); check the network, a proxy or "
                "firewall in between, and AZURE_AI_PROJECT_ENDPOINT",
            )
        ]
    except BotError as exc:
        return [Finding(False, "foundry", f"{exc.user_message} ({exc})")]
    digest = definition_hash(agent_definition(settings))
    match = next((v for v in versions if v.metadata.get("definition_sha256") == digest), None)
    if match is not None:
        text = f"agent {settings.agent_name} version {match.version} matches the settings"
    elif versions:
        text = f"agent {settings.agent_name} exists; a new version will be created at start-up (settings changed)"
    else:
        text = f"agent {settings.agent_name} will be created at start-up"
    return [
        Finding(True, "foundry", f"signed in to {settings.azure_ai_project_endpoint}"),
        Finding(True, "foundry", text),
    ]


async def check_database(settings: Settings) -> list[Finding]:
    """The database opens and its schema is current."""
    try:
        async with open_store(settings.database_url) as store:
            failing = await store.list_cleanup_jobs(states=[CleanupState.FAILED])
    except BotError as exc:  # the detail is for whoever runs this, not the sentence Slack users get
        return [Finding(False, "database", f"{exc}; check DATABASE_URL and that this user may write there")]
    ready = f"{settings.database_url} is ready"
    if parse_database_url(settings.database_url).in_memory:
        ready += " (in memory: nothing survives a restart; set a file for a deployment)"
    found = [Finding(True, "database", ready)]
    if failing:
        errors = "; ".join(sorted({(job.last_error or "unknown error")[:120] for job in failing})[:3])
        found.append(
            Finding(
                False,
                "clean-up",
                f"{len(failing)} clean-up job(s) keep failing ({errors}); they are retried, "
                "and `python -m bot sweep` deletes what they could not",
            )
        )
    return found
