"""The command line, run as a person would run it."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
import pytest

from bot import cli


def test_emulate_foundry_on_a_port_in_use_says_so_in_one_line() -> None:
    """Another program on --port: one line saying which and what to do, no traceback, exit status 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "bot", "emulate", "foundry", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port} (")
    assert "choose another --port" in done.stderr
    assert "Traceback" not in done.stderr


def test_emulate_foundry_prints_the_variables_that_point_a_bot_at_it() -> None:
    """`python -m bot emulate foundry` serves the emulator and prints working settings, as lines a
    shell can run (the identity variables must reach the environment, which a .env file doesn't)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "emulate", "foundry", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: dict[str, str] = {}
        while "IDENTITY_HEADER" not in lines:
            line = process.stdout.readline()
            assert line, "the emulator exited early"
            if line.startswith("#"):
                continue
            assert line.startswith("export "), line
            name, value = line.removeprefix("export ").strip().split("=", 1)
            lines[name] = value
        token = httpx.get(
            lines["IDENTITY_ENDPOINT"],
            params={"api-version": "2019-08-01", "resource": "https://ai.azure.com"},
            headers={"X-IDENTITY-HEADER": lines["IDENTITY_HEADER"]},
        ).json()["access_token"]
        created = httpx.post(
            f"{lines['AZURE_AI_PROJECT_ENDPOINT']}/openai/v1/conversations",
            json={},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 200
        assert created.json()["id"].startswith("conv_")
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_run_without_settings_names_each_missing_variable() -> None:
    """`python -m bot run` with nothing set exits 2 with one line per missing variable."""
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert [line.split()[1] for line in lines] == [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "AZURE_AI_PROJECT_ENDPOINT",
        "AZURE_AI_MODEL_DEPLOYMENT_NAME",
    ]


def test_demo_without_the_emulator_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Missing sandbox packages are named up front, with the command that installs them."""
    monkeypatch.setattr(cli, "SANDBOX_PACKAGES", ("pandas", "no_such_package_for_the_sandbox"))
    assert cli.main(["demo"]) == cli.EXIT_CONFIG
    error = capsys.readouterr().err
    assert "no_such_package_for_the_sandbox" in error
    assert "pandas," not in error
    assert "pip install '.[emulator]'" in error
