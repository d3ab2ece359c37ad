"""Every error the bot expects has a plain sentence for Slack, and never leaks its detail there."""

from __future__ import annotations

import pytest

from bot import errors


def all_error_classes() -> list[type[errors.BotError]]:
    found: list[type[errors.BotError]] = []
    pending: list[type[errors.BotError]] = [errors.BotError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda c: c.__name__)
def test_every_error_has_a_user_message(cls: type[errors.BotError]) -> None:
    """Each class carries a full sentence for the person in Slack, distinct from its parent's."""
    message = cls.user_message
    assert message.strip()
    assert message.rstrip().endswith((".", "!"))
    parent = cls.__mro__[1]
    if issubclass(parent, errors.BotError) and parent is not errors.BotError:
        assert message != parent.user_message


def test_detail_stays_out_of_the_user_message() -> None:
    """The log detail (ids, statuses) is kept apart from what Slack shows."""
    exc = errors.FoundryUnavailable("create response: HTTP 503 (request id abc123)", status=503)
    assert "abc123" in str(exc)
    assert "abc123" not in exc.user_message
    assert exc.status == 503


def test_config_error_keeps_one_problem_per_line() -> None:
    """A ConfigError lists each problem on its own line."""
    exc = errors.ConfigError(["A is missing: expected x.", "B is malformed: expected y."])
    assert str(exc).splitlines() == exc.problems
