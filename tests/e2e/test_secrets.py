"""Secrets stay out of the logs, even at DEBUG, through a whole turn."""

from __future__ import annotations

import logging

import pytest

from .harness import Stack


async def test_no_secret_reaches_the_logs(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    """The bot token, the signing secret and the identity secret never appear in any log record."""
    caplog.set_level(logging.DEBUG)
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> ```python\nprint('quiet')\n```")
    await slack.wait_for_reply(general, root.ts, contains="quiet", timeout=20)
    await stack.services.scheduler.wait_idle()
    text = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert caplog.records
    for secret in (slack.bot_token, slack.signing_secret, stack.foundry.identity_header):
        assert secret not in text
    assert "Bearer " not in text
