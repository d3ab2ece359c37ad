"""manifest.yml and the bot agree on the scopes and events it needs."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.manifest import BOT_EVENTS, BOT_SCOPES

MANIFEST = Path(__file__).parents[2] / "manifest.yml"


def test_manifest_scopes_are_the_ones_the_bot_checks() -> None:
    """Every scope in manifest.yml is one `bot check` verifies, and no other."""
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)


def test_manifest_events_are_the_ones_the_bot_handles() -> None:
    """Every subscribed event is one the bot registers a listener for."""
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert sorted(manifest["settings"]["event_subscriptions"]["bot_events"]) == sorted(BOT_EVENTS)


def test_manifest_declares_socket_mode_command_and_interactivity() -> None:
    """Socket Mode on, the /interpreter command, and interactivity for the buttons."""
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/interpreter"]
    assert manifest["features"]["app_home"]["messages_tab_read_only_enabled"] is False
