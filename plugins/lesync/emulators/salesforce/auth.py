"""OAuth 2.0 for the emulated org: client credentials and JWT bearer, tokens that expire.

The JWT flow's key pair is generated into the data folder; the private key path is handed to
tests and the demo so they can sign assertions like an admin-uploaded certificate allows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ORG_ID = "00DEM0000000001EAA"
USER_ID = "005EM0000000001AAA"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_ASSERTION_LIFETIME_S = 180
#: The JWT ``aud`` Salesforce accepts per environment (api-facts: "JWT bearer audience"); never the
#: My Domain or instance host.
AUDIENCES = {"production": "https://login.salesforce.com", "sandbox": "https://test.salesforce.com"}


@dataclass(frozen=True)
class JwtKeys:
    private_key_file: Path
    public_key_file: Path


class OAuthError(Exception):
    """A 400 from the token endpoint: ``{"error", "error_description"}``."""

    def __init__(self, code: str, description: str):
        self.code = code
        self.description = description
        super().__init__(f"{code}: {description}")


def ensure_jwt_keys(directory: Path) -> JwtKeys:
    """An RSA key pair for the JWT bearer flow, created at first use and reused after."""
    directory.mkdir(parents=True, exist_ok=True)
    keys = JwtKeys(directory / "jwt-private-key.pem", directory / "jwt-public-key.pem")
    if keys.private_key_file.exists() and keys.public_key_file.exists():
        return keys
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys.private_key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    keys.private_key_file.chmod(0o600)
    keys.public_key_file.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return keys


class TokenService:
    """Issues and checks access tokens; all can be expired at once to test re-authentication."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        username: str,
        lifetime_s: float,
        public_key_file: Path,
        environment: str = "production",
        extra_audiences: tuple[str, ...] = (),
    ):
        self.client_id = client_id
        self.client_secret = client_secret
        self.username = username
        self.lifetime_s = lifetime_s
        self.public_key = public_key_file.read_bytes()
        #: ``aud`` values this org accepts: its environment's login host, plus Experience Cloud sites.
        self.audiences = [AUDIENCES[environment], *extra_audiences]
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self, instance_url: str) -> dict[str, Any]:
        token = f"{ORG_ID[:15]}!{secrets.token_urlsafe(48)}"
        with self._lock:
            self._expiry[token] = time.monotonic() + self.lifetime_s
        issued_at = str(int(time.time() * 1000))
        identity = f"{instance_url}/id/{ORG_ID}/{USER_ID}"
        digest = hmac.new(self.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256)
        return {
            "access_token": token,
            "instance_url": instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": base64.b64encode(digest.digest()).decode(),
            "scope": "api",
        }

    def is_valid(self, token: str | None) -> bool:
        with self._lock:
            expiry = self._expiry.get(token or "")
        return expiry is not None and time.monotonic() < expiry

    def expire_all(self) -> None:
        with self._lock:
            self._expiry.clear()

    def client_credentials(self, client_id: str | None, client_secret: str | None) -> None:
        if client_id != self.client_id or not hmac.compare_digest(client_secret or "", self.client_secret):
            raise OAuthError("invalid_client", "invalid client credentials")

    def jwt_bearer(self, assertion: str | None) -> None:
        """Check an RS256 assertion: signature, iss (client id), sub (user), aud (login host), exp."""
        if not assertion:
            raise OAuthError("invalid_grant", "invalid assertion")
        try:
            claims = jwt.decode(
                assertion,
                self.public_key,
                algorithms=["RS256"],
                audience=self.audiences,
                options={"require": ["exp", "iss", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise OAuthError("invalid_grant", "expired authorization code") from None
        except jwt.InvalidAudienceError:
            raise OAuthError("invalid_grant", "audience is invalid") from None
        except jwt.PyJWTError:
            raise OAuthError("invalid_grant", "invalid assertion") from None
        if claims["iss"] != self.client_id:
            raise OAuthError("invalid_client", "invalid client credentials")
        if claims["sub"] != self.username:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        if float(claims["exp"]) > time.time() + MAX_ASSERTION_LIFETIME_S + 5:
            raise OAuthError("invalid_grant", "assertion expiration must be within 3 minutes")


def basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    """Client id and secret from ``Authorization: Basic ...``, if given."""
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except ValueError:
        return None, None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "oauth") else None
