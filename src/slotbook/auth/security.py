"""Password hashing (argon2) and access tokens (HS256 JWT only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from slotbook.errors import NotAuthenticated

_hasher = PasswordHasher()
# Verified when an email is unknown, so both login failures cost the same time.
_DUMMY_HASH = _hasher.hash("slotbook-no-such-user")
ALGORITHM = "HS256"


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    STAFF = "staff"


MANAGERS = frozenset({Role.OWNER, Role.ADMIN})
EVERYONE = frozenset(Role)


@dataclass(frozen=True)
class Principal:
    user_id: str
    tenant_id: str
    role: Role


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def issue_token(principal: Principal, *, secret: str, now: datetime, ttl: timedelta) -> str:
    claims = {
        "sub": principal.user_id,
        "tid": principal.tenant_id,
        "role": principal.role.value,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(token: str, *, secret: str, now: datetime) -> Principal:
    """Decode and check a token; any defect is the same 401.

    Expiry is checked against the injected ``now`` (not the library's clock), so the
    service and its tests agree on what time it is.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={
                "require": ["exp", "sub", "tid", "role"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
        if not isinstance(claims["exp"], int) or claims["exp"] <= now.timestamp():
            raise NotAuthenticated("Token expired")
        return Principal(str(claims["sub"]), str(claims["tid"]), Role(claims["role"]))
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise NotAuthenticated("Could not validate credentials") from exc
