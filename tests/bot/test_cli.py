"""The command line, run as a person would run it."""

from __future__ import annotations

import subprocess
import sys

import httpx


def test_emulate_foundry_prints_the_variables_that_point_a_bot_at_it() -> None:
    """`python -m bot emulate foundry` serves the emulator and prints working settings."""
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
            if "=" in line:
                name, value = line.strip().split("=", 1)
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
        "AZURE_AI_PROJECT_ENDPOINT",
        "AZURE_AI_MODEL_DEPLOYMENT_NAME",
    ]
