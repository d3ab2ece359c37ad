"""Bearer tokens and the App Service managed-identity endpoint that issues them.

Tokens are JWT-shaped (header, claims, HMAC signature with a per-emulator key) so nothing has
to be remembered per token: a token is valid when its signature checks, its ``aud`` is the
Foundry resource and its ``exp`` is still ahead of the emulator's clock. The identity endpoint
speaks the protocol ``azure-identity`` uses when ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER``
are set (App Service, api-version 2019-08-01), so the unchanged ``DefaultAzureCredential``
signs in against it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.emulators.foundry.errors import ApiError

#: The only audience the project endpoint accepts (scope ``https://ai.azure.com/.default``).
AI_RESOURCE = "https://ai.azure.com"
IDENTITY_API_VERSION = "2019-08-01"
LOGIN_AUTHORITY = "https://login.microsoftonline.com/"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _unauthorized(reason: str) -> ApiError:
    return ApiError(
        401,
        f"Access token is missing, invalid, audience is incorrect ({AI_RESOURCE}), or have expired: {reason}",
        code="Unauthorized",
        headers={"WWW-Authenticate": f'Bearer authorization_uri="{LOGIN_AUTHORITY}", resource="{AI_RESOURCE}"'},
    )


class TokenIssuer:
    """Issues and verifies this emulator's bearer tokens against its injectable clock."""

    def __init__(self, clock: Callable[[], float], lifetime_s: float) -> None:
        self._clock = clock
        self._lifetime_s = lifetime_s
        self._key = secrets.token_bytes(32)
        self.client_id = str(uuid.uuid4())
        self.tenant_id = str(uuid.uuid4())
        self.object_id = str(uuid.uuid4())

    def issue(self, resource: str = AI_RESOURCE, lifetime_s: float | None = None) -> tuple[str, int]:
        """A signed token for ``resource`` and its expiry in epoch seconds."""
        now = int(self._clock())
        expires_on = now + int(self._lifetime_s if lifetime_s is None else lifetime_s)
        claims = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": expires_on,
            "appid": self.client_id,
            "oid": self.object_id,
            "tid": self.tenant_id,
            "jti": secrets.token_hex(8),
        }
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{header}.{body}.{self._sign(f'{header}.{body}')}", expires_on

    def claims(self, token: str) -> dict[str, Any]:
        """The token's claims if it is one of ours and still valid; a 401 otherwise."""
        parts = token.split(".")
        if len(parts) != 3 or not hmac.compare_digest(self._sign(f"{parts[0]}.{parts[1]}"), parts[2]):
            raise _unauthorized("the token was not issued for this project")
        claims: dict[str, Any] = json.loads(_unb64(parts[1]))
        if str(claims.get("aud", "")).rstrip("/") != AI_RESOURCE:
            raise _unauthorized(f"the token's audience is {claims.get('aud')!r}")
        if int(claims.get("exp", 0)) <= self._clock():
            raise _unauthorized("the token has expired")
        return claims

    def check(self, request: web.Request) -> None:
        """Require ``Authorization: Bearer <valid token>`` on an API request."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("no bearer token was sent")
        self.claims(token.strip())

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())


class IdentityRoutes:
    """``GET /msi/token``: the App Service managed-identity token protocol."""

    def __init__(self, issuer: TokenIssuer, secret: str) -> None:
        self._issuer = issuer
        self._secret = secret

    async def token(self, request: web.Request) -> web.Response:
        """Issue a token when the secret header, api-version and resource are right."""
        sent = request.headers.get("X-IDENTITY-HEADER", "")
        if not sent:
            return _msi_error(400, "The X-IDENTITY-HEADER header is required.")
        if not hmac.compare_digest(sent, self._secret):
            return _msi_error(401, "The X-IDENTITY-HEADER header does not match.")
        if request.query.get("api-version") != IDENTITY_API_VERSION:
            return _msi_error(400, f"api-version must be {IDENTITY_API_VERSION}.")
        resource = request.query.get("resource", "")
        if not resource.startswith("https://"):
            return _msi_error(400, "A resource parameter (an https:// URI) is required.")
        token, expires_on = self._issuer.issue(resource)
        client_id = request.query.get("client_id") or self._issuer.client_id
        return web.json_response(
            {
                "access_token": token,
                "expires_on": str(expires_on),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": client_id,
            }
        )


def _msi_error(status: int, message: str) -> web.Response:
    body = {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())}
    return web.json_response(body, status=status)
