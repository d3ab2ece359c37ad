"""Tokens: the managed-identity endpoint, azure-identity against it, and bearer checks on the API."""

from __future__ import annotations

import httpx
import pytest
from azure.identity.aio import DefaultAzureCredential

from bot.emulators.foundry import EmulatorConfig, FoundryEmulator

from .conftest import FakeClock

#: Variables that would steer DefaultAzureCredential to another credential than App Service MSI.
OTHER_CREDENTIAL_VARIABLES = (
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "AZURE_TOKEN_CREDENTIALS",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
)


async def test_default_azure_credential_signs_in_through_the_identity_endpoint(
    emulator: FoundryEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unchanged DefaultAzureCredential gets a token the project endpoint accepts."""
    for name in OTHER_CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", emulator.identity_header)
    credential = DefaultAzureCredential()
    try:
        token = await credential.get_token("https://ai.azure.com/.default")
        again = await credential.get_token("https://ai.azure.com/.default")
    finally:
        await credential.close()
    assert token.token == again.token
    assert token.expires_on > emulator.config.clock() + 3000
    [asked] = [r for r in emulator.requests if r.route == "identity.token"]
    assert asked.query == {"api-version": "2019-08-01", "resource": "https://ai.azure.com"}
    assert asked.headers["X-IDENTITY-HEADER"] == "<redacted>"
    async with httpx.AsyncClient(base_url=emulator.endpoint) as http:
        response = await http.post("/openai/v1/conversations", headers={"Authorization": f"Bearer {token.token}"})
    assert response.status_code == 200


async def test_identity_endpoint_checks_header_version_and_resource(emulator: FoundryEmulator) -> None:
    """A wrong secret is 401, a missing secret or api-version or resource is 400, as App Service does."""
    good = {"api-version": "2019-08-01", "resource": "https://ai.azure.com"}
    secret = {"X-IDENTITY-HEADER": emulator.identity_header}
    async with httpx.AsyncClient() as http:
        wrong = await http.get(emulator.identity_endpoint, params=good, headers={"X-IDENTITY-HEADER": "nope"})
        missing = await http.get(emulator.identity_endpoint, params=good)
        old = await http.get(emulator.identity_endpoint, params={**good, "api-version": "2017-09-01"}, headers=secret)
        no_resource = await http.get(emulator.identity_endpoint, params={"api-version": "2019-08-01"}, headers=secret)
        fine = await http.get(emulator.identity_endpoint, params=good, headers=secret)
    assert tuple(r.status_code for r in (wrong, missing, old, no_resource, fine)) == (401, 400, 400, 400, 200)
    body = fine.json()
    assert {"access_token", "expires_on", "resource", "token_type", "client_id"} == set(body)
    assert (body["token_type"], body["resource"]) == ("Bearer", "https://ai.azure.com")
    assert body["expires_on"].isdigit()


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer forged.token.value", "Basic dXNlcjpwYXNz"],
    ids=["missing", "empty", "forged", "wrong-scheme"],
)
async def test_api_refuses_requests_without_a_valid_token(emulator: FoundryEmulator, authorization: str | None) -> None:
    """Every API route answers 401 with the Foundry error body unless a token it issued is sent."""
    headers = {"Authorization": authorization} if authorization else {}
    async with httpx.AsyncClient(base_url=emulator.endpoint, headers=headers) as http:
        response = await http.post("/openai/v1/conversations", json={})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "Unauthorized"
    assert error["additionalInfo"]["request_id"] == response.headers["x-request-id"]
    assert emulator.counters()["conversations"] == 0


async def test_token_for_another_resource_is_refused(emulator: FoundryEmulator) -> None:
    """A token whose audience is not https://ai.azure.com is refused, like an old cognitiveservices token."""
    token = emulator.issue_token(resource="https://cognitiveservices.azure.com")
    async with httpx.AsyncClient(base_url=emulator.endpoint) as http:
        response = await http.get("/openai/v1/conversations", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "audience" in response.json()["error"]["message"]


async def test_token_expires_by_the_emulator_clock() -> None:
    """A token stops working once the configured clock passes its lifetime."""
    clock = FakeClock()
    async with FoundryEmulator(EmulatorConfig(clock=clock, token_lifetime_s=600)) as emulator:
        headers = {"Authorization": f"Bearer {emulator.issue_token()}"}
        async with httpx.AsyncClient(base_url=emulator.endpoint, headers=headers) as http:
            before = await http.get("/openai/v1/conversations")
            clock.advance(601)
            after = await http.get("/openai/v1/conversations")
    assert (before.status_code, after.status_code) == (200, 401)
    assert "expired" in after.json()["error"]["message"]
