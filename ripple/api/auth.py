"""Who may call which route: `Authorization: Bearer <token>` checked against the stored tokens.

Every route declares the role it needs with `Depends(require(Role.X))`; the dependency answers
the caller's Identity, whose name is the audit actor (never a field of the request body). While
no token has ever been created, Ripple serves loopback only (cli/main.py refuses any other
address) and every caller is `LOCAL`; once one exists, every route but liveness needs one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from ripple.errors import Forbidden, Unauthenticated
from ripple.identity import LOCAL, Identity, Role, token_hash
from ripple.runtime import Runtime


def bearer(request: Request) -> str | None:
    """The token of an `Authorization: Bearer …` header, or None when there is no header."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "The Authorization header must be 'Bearer <token>' (create one with "
            "`ripple token create NAME --role ROLE`)"
        )
    return token.strip()


async def identify(request: Request) -> Identity:
    """The caller of `request`: LOCAL while no token exists, else the token's identity."""
    runtime: Runtime = request.app.state.runtime
    tokens = runtime.tokens
    if not await tokens.required():
        return LOCAL
    token = bearer(request)
    if token is None:
        raise Unauthenticated(
            "This Ripple requires a token: send 'Authorization: Bearer <token>' "
            "(an admin creates one with `ripple token create NAME --role ROLE`)"
        )
    identity = await tokens.lookup(token_hash(token))
    if identity is None:
        raise Unauthenticated("The token is not known to this Ripple, or it was revoked")
    return identity


def require(role: Role) -> Callable[[Request], Awaitable[Identity]]:
    """A route dependency: the caller's Identity if its role allows `role`, else 401/403."""

    async def dependency(request: Request) -> Identity:
        identity = await identify(request)
        if not identity.role.allows(role):
            raise Forbidden(
                f"This request needs the role '{role.value}' (or above); the token "
                f"'{identity.name}' has '{identity.role.value}'"
            )
        request.state.identity = identity
        return identity

    dependency.needed_role = role  # type: ignore[attr-defined]  # read by the route table test
    return dependency
