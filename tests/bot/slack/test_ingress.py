"""Which deliveries are acknowledged at the door, before bolt runs: only those the bot never acts on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.slack.ingress import ignorable, ignorable_body


def callback(event: dict[str, Any]) -> dict[str, Any]:
    return {"type": "event_callback", "team_id": "T1", "event_id": "Ev1", "event": event}


HUMAN = {"type": "message", "user": "U1", "text": "hi", "ts": "1.1", "channel": "C1"}


@pytest.mark.parametrize(
    "event",
    [
        {**HUMAN, "bot_id": "B1", "user": "U0BOT"},  # the bot's own answer or status line
        {"type": "message", "subtype": "bot_message", "bot_id": "B2", "text": "from another app"},
        {"type": "message", "subtype": "message_changed", "hidden": True, "message": {**HUMAN, "bot_id": "B1"}},
        {"type": "message", "subtype": "channel_join", "user": "U2"},
        {"type": "message", "subtype": "message_replied", "hidden": True},
    ],
    ids=["own message", "another bot", "edit", "join", "replied"],
)
def test_bot_messages_edits_and_hidden_changes_are_ignorable(event: dict[str, Any]) -> None:
    assert ignorable(callback(event))
    assert ignorable_body(json.dumps(callback(event)))


@pytest.mark.parametrize(
    "payload",
    [
        callback(HUMAN),
        callback({**HUMAN, "subtype": "file_share", "files": [{"id": "F1"}]}),
        callback({**HUMAN, "subtype": "thread_broadcast", "thread_ts": "1.0"}),
        callback({"type": "message", "subtype": "message_deleted", "hidden": True, "deleted_ts": "1.0"}),
        callback({"type": "app_mention", "user": "U1", "text": "<@U0BOT> hi", "ts": "1.1", "channel": "C1"}),
        callback({"type": "channel_archive", "channel": "C1", "user": "U1"}),
        {"type": "url_verification", "challenge": "x"},
        {"type": "block_actions", "actions": []},
    ],
    ids=["person", "file share", "broadcast", "root deleted", "mention", "archive", "url check", "button"],
)
def test_everything_the_bot_may_act_on_goes_to_bolt(payload: dict[str, Any]) -> None:
    assert not ignorable(payload)
    assert not ignorable_body(json.dumps(payload))


@pytest.mark.parametrize("body", ["", "command=%2Finterpreter&text=hi", "{not json", "[1, 2]"])
def test_forms_and_malformed_bodies_go_to_bolt(body: str) -> None:
    assert not ignorable_body(body)
