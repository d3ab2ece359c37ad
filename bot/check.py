"""``python -m bot check``: can this deployment work? A report a person can act on.

Checks, in order: the settings; Slack (``auth.test`` and the granted scopes against the ones
``manifest.yml`` asks for); Foundry (a token from the credential chain, then the agent); the
database (opened and migrated). Each line says what was found and, when it is wrong, what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.agent import agent_definition, definition_hash
from bot.config import Settings
from bot.errors import BotError
from bot.foundry.connect import open_foundry
from bot.manifest import BOT_SCOPES
from bot.slack.client import build_web_client
from storage import CleanupState, open_store


@dataclass(frozen=True)
class Finding:
    """One line of the report."""

    ok: bool
    area: str
    text: str

    def line(self) -> str:
        """The line as printed."""
        return f"{'ok ' if self.ok else 'FAIL'} {self.area}: {self.text}"


async def run_checks(settings: Settings) -> list[Finding]:
    """Every check, each independent of the others' outcome."""
    findings = [Finding(True, "settings", f"loaded ({'Socket Mode' if settings.socket_mode else 'HTTP mode'})")]
    findings += await check_slack(settings)
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
                f"auth.test refused the bot token ({error}); reinstall the app "
                "and copy the Bot User OAuth Token into SLACK_BOT_TOKEN",
            )
        ]
    except SlackClientError as exc:
        return [Finding(False, "slack", f"could not reach {settings.slack_api_url} ({type(exc).__name__})")]
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


async def check_foundry(settings: Settings) -> list[Finding]:
    """A token can be had, and the agent is (or can be) provisioned."""
    try:
        async with open_foundry(settings) as foundry:
            versions = await foundry.list_agent_versions(settings.agent_name)
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
    except BotError as exc:
        return [Finding(False, "database", f"{exc.user_message} ({exc})")]
    found = [Finding(True, "database", f"{settings.database_url} is ready")]
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
