"""Credentials: argon2id password hashes, JWT access tokens, opaque refresh tokens, API keys.

Access tokens are HS256 JWTs with the algorithm pinned and `exp`, `aud`, `iss` required and
checked. Refresh tokens and API keys are random secrets of which only a SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from sharefab.kit.settings import Settings, get_settings
from sharefab.kit.types import utcnow

ALGORITHM = "HS256"
API_KEY_PREFIX = "sfk"
SECRET_FILE = Path("var/secret.key")


@lru_cache(maxsize=4)
def _hasher(memory_kib: int, time_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)


def password_hasher(settings: Settings | None = None) -> PasswordHasher:
    """argon2id with the configured cost (at least OWASP's m=19 MiB, t=2, p=1)."""
    s = settings or get_settings()
    return _hasher(s.argon2_memory_kib, s.argon2_time_cost, s.argon2_parallelism)


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return password_hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; a missing hash still costs one hash so timing tells nothing."""
    hasher = password_hasher()
    if not password_hash:
        hasher.hash(password)
        return False
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def secret_key(settings: Settings | None = None) -> str:
    """The signing key: from settings, else from var/secret.key (made on first use)."""
    s = settings or get_settings()
    if s.secret_key is not None:
        return s.secret_key.get_secret_value()
    return _file_secret()


@lru_cache(maxsize=1)
def _file_secret() -> str:
    if SECRET_FILE.exists():
        return SECRET_FILE.read_text().strip()
    SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    SECRET_FILE.write_text(key)
    SECRET_FILE.chmod(0o600)
    return key


@dataclass(frozen=True)
class AccessClaims:
    """What a valid access token says."""

    user_id: int
    organization_id: int
    expires_at: datetime


class InvalidToken(Exception):
    """An access token that is expired, forged, or meant for someone else."""


def issue_access_token(user_id: int, organization_id: int, now: datetime | None = None) -> str:
    """A signed, short-lived access token for a user acting for one organisation."""
    s = get_settings()
    now = now or utcnow()
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "org": organization_id,
        "iss": s.jwt_issuer,
        "aud": s.jwt_audience,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=s.access_token_minutes)).timestamp()),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, secret_key(s), algorithm=ALGORITHM)


def decode_access_token(token: str) -> AccessClaims:
    """The claims of a valid token; InvalidToken for anything else (`alg: none` included)."""
    s = get_settings()
    try:
        claims = jwt.decode(
            token,
            secret_key(s),
            algorithms=[ALGORITHM],
            audience=s.jwt_audience,
            issuer=s.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
        return AccessClaims(
            user_id=int(claims["sub"]),
            organization_id=int(claims["org"]),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=utcnow().tzinfo),
        )
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc) or exc.__class__.__name__) from None


def new_secret(nbytes: int = 32) -> str:
    """A random URL-safe secret."""
    return secrets.token_urlsafe(nbytes)


def digest(secret: str) -> str:
    """SHA-256 hex of a high-entropy secret (refresh tokens, API keys, session ids)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_key() -> tuple[str, str, str]:
    """A new API key as (full key shown once, lookup prefix, stored hash)."""
    prefix = secrets.token_hex(6)
    secret = new_secret(32)
    key = f"{API_KEY_PREFIX}_{prefix}_{secret}"
    return key, prefix, digest(key)


def split_api_key(key: str) -> str | None:
    """The lookup prefix of a well-formed key, else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 12:
        return None
    return parts[1]


def same_digest(key: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with a stored hash."""
    return hmac.compare_digest(digest(key), stored_hash)


def sign(value: str) -> str:
    """An HMAC signature of `value` (CSRF tokens bound to a session)."""
    return hmac.new(secret_key().encode(), value.encode(), hashlib.sha256).hexdigest()
