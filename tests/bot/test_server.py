"""The transport's log: Slack out of reach is one warning line a try; anything else keeps its traceback."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from bot.server import socket_mode_logger


def _failed_to_connect(error: BaseException, caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    caplog.clear()
    try:
        raise error
    except BaseException:
        socket_mode_logger().exception(f"Failed to connect (error: {error}); Retrying...")
    (record,) = caplog.records
    return record


def test_slack_out_of_reach_is_one_warning_line(caplog: pytest.LogCaptureFixture) -> None:
    """slack_sdk logs each failed try with a traceback; a connection that can't be made is one warning."""
    for error in (aiohttp.ClientConnectionError("refused"), OSError("unreachable"), TimeoutError()):
        record = _failed_to_connect(error, caplog)
        assert (record.levelname, record.exc_info) == ("WARNING", None)


def test_any_other_failure_to_connect_keeps_its_level_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """A bug on the way to connecting is not dressed up as Slack being away."""
    record = _failed_to_connect(TypeError("a bug"), caplog)
    assert record.levelname == "ERROR"
    assert record.exc_info is not None


def test_a_quieter_log_level_drops_the_warning(caplog: pytest.LogCaptureFixture) -> None:
    """With the logger set to errors only, the downgraded line is not written either."""
    logger = socket_mode_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        caplog.clear()
        try:
            raise OSError("unreachable")
        except OSError:
            logger.exception("Failed to connect (error: unreachable); Retrying...")
        assert caplog.records == []
    finally:
        logger.setLevel(level)
