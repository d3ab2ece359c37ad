"""The access rules: empty allowlists allow everyone; each rule refuses with its own sentence."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import Settings
from bot.governance.access import AccessPolicy, Requester
from bot.governance.refusal import RefusalReason


def policy(**values: Any) -> AccessPolicy:
    base: dict[str, Any] = {
        "slack_bot_token": "xoxb-1",
        "slack_signing_secret": "s",
        "azure_ai_project_endpoint": "https://a.services.ai.azure.com/api/projects/p",
        "azure_ai_model_deployment_name": "m",
    }
    return AccessPolicy(Settings(_env_file=None, **base, **values))


ALICE = Requester("T1", "C1", "U1")


def test_no_rules_allow_everyone_in_the_workspace() -> None:
    assert policy().check(ALICE) is None


@pytest.mark.parametrize(
    ("rules", "reason"),
    [
        ({"allowed_teams": "T9"}, RefusalReason.TEAM),
        ({"allowed_channels": "C9"}, RefusalReason.CHANNEL),
        ({"allowed_users": "U9"}, RefusalReason.USER),
    ],
)
def test_each_allowlist_refuses_whoever_it_does_not_name(rules: dict[str, str], reason: RefusalReason) -> None:
    refusal = policy(**rules).check(ALICE)
    assert refusal is not None
    assert refusal.reason is reason
    assert refusal.message.startswith("Sorry, ")


@pytest.mark.parametrize("rules", [{"allowed_teams": "T1"}, {"allowed_channels": "C1,C2"}, {"allowed_users": "U0,U1"}])
def test_each_allowlist_allows_whoever_it_names(rules: dict[str, str]) -> None:
    assert policy(**rules).check(ALICE) is None


def test_an_admin_is_an_allowed_user() -> None:
    rules = policy(allowed_users="U9", admin_users="U1")
    assert rules.check(ALICE) is None
    assert rules.is_admin("U1")
    assert not rules.is_admin("U9")


def test_the_refusal_names_the_admins_to_ask_and_the_channels_to_use() -> None:
    by_user = policy(allowed_users="U9", admin_users="U7").check(ALICE)
    by_channel = policy(allowed_channels="C9,C8").check(ALICE)
    assert by_user is not None
    assert by_channel is not None
    assert "Ask <@U7> for access" in by_user.message
    assert "use me in <#C8>, <#C9>" in by_channel.message


def test_dms_are_not_held_to_the_channel_allowlist() -> None:
    assert policy(allowed_channels="C9").check(Requester("T1", "D1", "U1")) is None


def test_people_from_another_organisation_are_refused_unless_allowed() -> None:
    guest = Requester("T1", "C1", "U5", user_team="T2")
    assert guest.is_external
    refusal = policy().check(guest)
    assert refusal is not None
    assert refusal.reason is RefusalReason.EXTERNAL
    assert policy(external_users="allow").check(guest) is None


def test_in_a_shared_channel_a_person_of_unknown_team_counts_as_external() -> None:
    assert Requester("T1", "C1", "U5", shared_channel=True).is_external
    assert not Requester("T1", "C1", "U5", user_team="T1", shared_channel=True).is_external


def test_a_member_whose_payload_names_their_own_team_is_not_external() -> None:
    assert not Requester("T1", "C1", "U1", user_team="T1").is_external
    assert not Requester("T1", "C1", "U1", user_team=None).is_external
