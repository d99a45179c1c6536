"""`ripple token create|list|revoke`: the API tokens that say who may call `ripple serve`.

A token is printed once, on stdout, alone (so `TOKEN=$(ripple token create …)` works); only its
hash is stored. These commands open the state database directly, beside a running server: a
new or revoked token takes effect there within two seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from ripple.cli.console import actor, data_dir_option, err, out, print_json, run, settings
from ripple.identity import (
    InvalidToken,
    Role,
    TokenRecord,
    check_name,
    new_token,
    parse_role,
    token_hash,
)
from ripple.runtime import open_state

ROLES = ", ".join(r.value for r in Role)


@click.group()
def token() -> None:
    """API tokens: who may call `ripple serve`, and with which role."""


@token.command()
@data_dir_option
@click.argument("name")
@click.option("--role", required=True, help=f"One of: {ROLES}.")
@click.option(
    "--stdin",
    "from_stdin",
    is_flag=True,
    help="Register the token read from stdin (a secret you manage, e.g. in docker-compose) "
    "instead of generating one; nothing is printed.",
)
@click.option("--if-missing", is_flag=True, help="Succeed without change when NAME exists already.")
def create(data_dir: Path | None, name: str, role: str, from_stdin: bool, if_missing: bool) -> None:
    """Create the token NAME (its name is the audit actor) and print it, once."""
    try:
        name, chosen = check_name(name), parse_role(role)
    except InvalidToken as exc:
        raise click.BadParameter(str(exc)) from None
    secret = sys.stdin.read().strip() if from_stdin else new_token()
    if len(secret) < 24:
        raise click.BadParameter("a token read from stdin must be at least 24 characters")

    async def store() -> TokenRecord | None:
        async with open_state(settings(data_dir=data_dir)) as state:
            if if_missing and any(t.name == name for t in await state.tokens()):
                return None
            return await state.create_token(name, chosen, token_hash(secret), actor())

    record = run(store())
    if record is None:
        err.print(f"Token {name!r} exists already; left as it is.")
        return
    if not from_stdin:
        sys.stdout.write(secret + "\n")
    err.print(
        f"Created token {name!r} with role {chosen.value}. It is shown only now; send it as "
        "'Authorization: Bearer <token>'."
    )


@token.command(name="list")
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def list_tokens(data_dir: Path | None, as_json: bool) -> None:
    """The tokens (names, roles, who created them, revoked or not), never the secrets."""

    async def load() -> list[TokenRecord]:
        async with open_state(settings(data_dir=data_dir)) as state:
            return await state.tokens()

    records = run(load())
    if as_json:
        print_json([r.as_dict() for r in records])
        return
    if not records:
        err.print("No tokens: `ripple serve` answers loopback callers only, without a token.")
        return
    table = Table("name", "role", "created", "by", "revoked")
    for r in records:
        table.add_row(
            r.name, r.role.value, r.created_at[:19], r.created_by, (r.revoked_at or "")[:19]
        )
    out.print(table)


@token.command()
@data_dir_option
@click.argument("name")
def revoke(data_dir: Path | None, name: str) -> None:
    """Revoke the token NAME (its name stays taken, so the audit trail stays unambiguous)."""

    async def revoke_it() -> bool:
        async with open_state(settings(data_dir=data_dir)) as state:
            return await state.revoke_token(name, actor())

    if not run(revoke_it()):
        raise click.ClickException(
            f"No active token named {name!r} — `ripple token list` shows the tokens"
        )
    err.print(f"Revoked token {name!r}; a running server refuses it within two seconds.")
