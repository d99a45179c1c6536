"""Who is calling: API tokens, their roles and what each role may do (pure, no I/O).

A token is `rpl_` + 32 random bytes (URL-safe base64). Only its SHA-256 is stored, so a leaked
state database gives no working token; a token is shown once, when it is created. Roles are
ordered: each one may do everything the roles below it may.

    read     queries, plans as dry runs, listings
    ingest   posting OpenLineage events (and everything `read` may)
    operate  saving and running plans, quarantine, incident actions
    admin    tokens, retracting events
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from ripple.errors import RippleError

TOKEN_PREFIX = "rpl_"  # noqa: S105 (a prefix, not a secret)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class Role(StrEnum):
    READ = "read"
    INGEST = "ingest"
    OPERATE = "operate"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """Whether a token of this role may do what `needed` guards."""
        return self.rank >= needed.rank


_RANKS = {Role.READ: 0, Role.INGEST: 1, Role.OPERATE: 2, Role.ADMIN: 3}


class InvalidToken(RippleError):
    """A token name or role that cannot be used (a usage error, before anything is stored)."""


@dataclass(frozen=True, slots=True)
class Identity:
    """The caller a request acts for: a token's name and role. `name` is the audit actor."""

    name: str
    role: Role

    @property
    def actor(self) -> str:
        """What the audit trail records as who acted: the token's name."""
        return self.name


# Who calls when no token exists at all: Ripple then serves loopback only (see cli/main.py).
LOCAL = Identity("local", Role.ADMIN)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored token: never the token itself, only its hash."""

    name: str
    role: Role
    token_hash: str
    created_at: str
    created_by: str
    revoked_at: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "role": self.role.value,
            "createdAt": self.created_at,
            "createdBy": self.created_by,
            "revokedAt": self.revoked_at,
        }


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise InvalidToken(
            f"Role {value!r} is not one of {', '.join(r.value for r in Role)}"
        ) from None


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise InvalidToken(
            f"Token name {name!r} must be 1-64 letters, digits or _.@- and start with a letter "
            "or digit (it becomes the audit actor)"
        )
    return name


class TokenCache:
    """The stored tokens by hash, reloaded at most every `ttl` seconds: a token created or
    revoked with `ripple token` (another process) takes effect within `ttl`, and a flood of
    unknown tokens costs no database round trips."""

    def __init__(
        self,
        load: Callable[[], Awaitable[list[TokenRecord]]],
        ttl: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl = ttl
        self._clock = clock
        self._loaded_at: float | None = None
        self._by_hash: dict[str, Identity] = {}
        self._any = False

    async def _fresh(self) -> None:
        now = self._clock()
        if self._loaded_at is None or now - self._loaded_at >= self._ttl:
            records = await self._load()
            self._any = bool(records)
            self._by_hash = {
                r.token_hash: Identity(r.name, r.role) for r in records if r.revoked_at is None
            }
            self._loaded_at = now

    async def required(self) -> bool:
        """Whether a token is needed: once any token was ever created (revoked ones count, so
        revoking the last token does not open the server)."""
        await self._fresh()
        return self._any

    async def lookup(self, digest: str) -> Identity | None:
        await self._fresh()
        return self._by_hash.get(digest)
