"""`python -m bot check` reports what it finds, against both emulators."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.check import run_checks
from bot.cli import main
from bot.demo import free_port
from bot.emulators.foundry import Fault, FoundryEmulator
from bot.emulators.slack import SlackEmulator
from bot.manifest import BOT_SCOPES
from storage import ArchiveReason, open_store

from .harness import bot_settings


async def test_check_passes_on_a_good_deployment(pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path) -> None:
    """With every scope granted and Foundry reachable, every line is ok."""
    slack, foundry = pair
    slack.scopes.update(BOT_SCOPES)
    findings = await run_checks(bot_settings(slack, foundry, tmp_path / "bot.db"))
    assert all(f.ok for f in findings), [f.line() for f in findings]
    assert any("will be created at start-up" in f.text for f in findings)


async def test_check_names_missing_scopes(pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path) -> None:
    """A scope the workspace did not grant is named, with the fix."""
    slack, foundry = pair
    slack.scopes.update(BOT_SCOPES)
    slack.scopes.discard("commands")
    findings = await run_checks(bot_settings(slack, foundry, tmp_path / "bot.db"))
    failed = [f for f in findings if not f.ok]
    assert len(failed) == 1
    assert "missing scopes: commands" in failed[0].text
    assert "reinstall" in failed[0].text


async def test_check_reports_a_refused_token(pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path) -> None:
    """A bot token Slack does not know is reported with what to do."""
    slack, foundry = pair
    settings = bot_settings(slack, foundry, tmp_path / "bot.db", slack_bot_token="xoxb-0-0-wrong")
    failed = [f for f in await run_checks(settings) if not f.ok]
    assert [f.area for f in failed] == ["slack"]
    assert "invalid_auth" in failed[0].text


@pytest.mark.parametrize("socket_mode", [False, True], ids=["http mode", "socket mode"])
async def test_check_reports_slack_out_of_reach_and_still_checks_the_rest(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path, socket_mode: bool
) -> None:
    """No answer from Slack at all (a firewall, a wrong URL) is one line with what to look at, also
    in Socket Mode, whose token can't be tried then; Foundry and the database are still checked."""
    slack, foundry = pair
    nowhere = f"http://127.0.0.1:{free_port()}/api/"
    app_token = {"slack_app_token": slack.app_token} if socket_mode else {}
    findings = await run_checks(bot_settings(slack, foundry, tmp_path / "bot.db", slack_api_url=nowhere, **app_token))
    failed = [f for f in findings if not f.ok]
    assert [f.area for f in failed] == ["slack"]
    assert f"could not reach {nowhere}" in failed[0].text
    assert {f.area for f in findings if f.ok} >= {"foundry", "database"}


async def test_check_reports_foundry_out_of_reach_naming_the_setting(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """No answer from the project endpoint is one line saying where it looked and which setting to check."""
    slack, foundry = pair
    slack.scopes.update(BOT_SCOPES)
    nowhere = f"http://127.0.0.1:{free_port()}/api/projects/nowhere"
    findings = await run_checks(bot_settings(slack, foundry, tmp_path / "bot.db", azure_ai_project_endpoint=nowhere))
    failed = [f for f in findings if not f.ok]
    assert [f.area for f in failed] == ["foundry"]
    assert failed[0].text.startswith(f"no answer from {nowhere}")
    assert "AZURE_AI_PROJECT_ENDPOINT" in failed[0].text


async def test_check_tells_foundry_failing_on_its_side_from_foundry_out_of_reach(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """Foundry answering 503 is reported as Foundry's trouble, not as a network to check."""
    slack, foundry = pair
    slack.scopes.update(BOT_SCOPES)
    foundry.faults.add(Fault(route="agents.list_versions", kind="status", status=503, count=100))
    failed = [f for f in await run_checks(bot_settings(slack, foundry, tmp_path / "bot.db")) if not f.ok]
    assert [f.area for f in failed] == ["foundry"]
    assert "HTTP 503" in failed[0].text
    assert "no answer" not in failed[0].text
    assert "AZURE_AI_PROJECT_ENDPOINT" not in failed[0].text


@pytest.mark.parametrize("good", [True, False])
async def test_check_in_socket_mode_tries_the_app_token(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path, good: bool
) -> None:
    """In Socket Mode the app-level token is tried too: a wrong one is named, with where to make a new one."""
    slack, foundry = pair
    slack.scopes.update(BOT_SCOPES)
    token = slack.app_token if good else "xapp-1-A0-0-wrong"
    findings = await run_checks(bot_settings(slack, foundry, tmp_path / "bot.db", slack_app_token=token))
    failed = [f for f in findings if not f.ok]
    if good:
        assert failed == []
        assert any("app-level token opens Socket Mode connections" in f.text for f in findings)
    else:
        assert [f.area for f in failed] == ["slack"]
        assert "apps.connections.open refused the app-level token" in failed[0].text
        assert "SLACK_APP_TOKEN" in failed[0].text


async def test_check_reports_a_database_it_cannot_create_with_the_reason(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """A database folder that can't be made is reported with why and what to check, not "try again later"."""
    slack, foundry = pair
    slack.scopes.update(BOT_SCOPES)
    (tmp_path / "taken").write_text("a file where the folder should be")
    findings = await run_checks(bot_settings(slack, foundry, tmp_path / "taken" / "bot.db"))
    failed = [f for f in findings if not f.ok]
    assert [f.area for f in failed] == ["database"]
    assert "cannot create the folder" in failed[0].text
    assert "DATABASE_URL" in failed[0].text
    assert "try again" not in failed[0].text


async def test_check_reports_missing_azure_role(pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path) -> None:
    """A 403 from Foundry becomes the hint about the Azure AI User role."""
    slack, foundry = pair
    slack.scopes.update(BOT_SCOPES)
    foundry.faults.add(Fault(route="agents.list_versions", kind="status", status=403, count=5))
    failed = [f for f in await run_checks(bot_settings(slack, foundry, tmp_path / "bot.db")) if not f.ok]
    assert [f.area for f in failed] == ["foundry"]
    assert "Azure AI User" in failed[0].text


async def test_check_reports_a_credential_that_gives_no_token(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No token at all (the identity endpoint is down) points at the credential, not at a role."""
    slack, foundry = pair
    slack.scopes.update(BOT_SCOPES)
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{free_port()}/msi/token")
    failed = [f for f in await run_checks(bot_settings(slack, foundry, tmp_path / "bot.db")) if not f.ok]
    assert [f.area for f in failed] == ["foundry"]
    assert "no Azure credential gave me a token" in failed[0].text
    assert "Azure AI User" not in failed[0].text


async def test_check_says_a_database_in_memory_keeps_nothing(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """A database in memory works, and the report says what that costs at a restart."""
    slack, foundry = pair
    slack.scopes.update(BOT_SCOPES)
    findings = await run_checks(bot_settings(slack, foundry, tmp_path / "unused.db", database_url="sqlite:///:memory:"))
    (database,) = [f for f in findings if f.area == "database"]
    assert database.ok
    assert "nothing survives a restart" in database.text


def test_check_command_reports_missing_settings(capsys: pytest.CaptureFixture[str]) -> None:
    """Without settings the command prints one line per missing variable and exits 2."""
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert "SLACK_BOT_TOKEN is missing" in err
    assert "AZURE_AI_PROJECT_ENDPOINT is missing" in err


async def test_check_lists_clean_up_jobs_that_keep_failing(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """A clean-up job that keeps failing shows up in the report with its error and the way out."""
    slack, foundry = pair
    slack.scopes.update(BOT_SCOPES)
    db = tmp_path / "bot.db"
    async with open_store(f"sqlite:///{db}") as store:
        session, _ = await store.get_or_create_session("T1", "C1", "1.0")
        job = await store.begin_archiving(session.id, ArchiveReason.CHANNEL_ARCHIVED)
        assert job is not None
        await store.record_cleanup_failure(job.id, "delete conversation: HTTP 503", retry_at=datetime.now(UTC))
    failed = [f for f in await run_checks(bot_settings(slack, foundry, db)) if not f.ok]
    assert [f.area for f in failed] == ["clean-up"]
    assert "HTTP 503" in failed[0].text
    assert "python -m bot sweep" in failed[0].text
