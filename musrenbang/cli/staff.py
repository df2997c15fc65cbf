"""Staff accounts: user add, list, move, password, disable, enable."""

from __future__ import annotations

import getpass
import sys
from typing import TYPE_CHECKING

import click

from musrenbang.cli.common import Failure, database, migrated, run, settings_from_env
from musrenbang.cli.group import main

if TYPE_CHECKING:  # imported where used, to keep the command line quick to start
    from collections.abc import Awaitable, Callable

    import asyncpg


@main.group()
def user() -> None:
    """Staff accounts (admin, facilitator, opd, auditor, dprd, setwan)."""


@user.command("add")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "facilitator", "opd", "auditor", "dprd", "setwan"]))
@click.option("--region", default=None, help="Kelurahan, desa or kecamatan code (facilitators).")
@click.option("--opd", default=None, help="An agency code from the city settings (opd accounts), e.g. DBMSDA.")
@click.option("--dapil", default=None, help="A daerah pemilihan from the city settings (dprd accounts).")
@click.option("--name", default=None, help="Full name as pages show it (dprd accounts: the member's, required).")
@click.option("--faction", default=None, help="Fraksi (dprd accounts).")
def user_add(username: str, role: str, region: str | None, opd: str | None, dapil: str | None, name: str | None,
             faction: str | None) -> None:  # fmt: skip
    """Add an account; the password is read from standard input (first line). `dprd`: a DPRD member, who
    enters pokok-pikiran; `setwan`: the DPRD secretariat, who checks and forwards them."""
    from musrenbang.domain.errors import DomainError, ValidationFailed
    from musrenbang.services.accounts import add_user

    # What the role does not use would be dropped without a word, while the line printed below names it.
    for option, value, roles in (("--region", region, ("facilitator",)), ("--opd", opd, ("opd",)),
                                 ("--dapil", dapil, ("dprd",)), ("--faction", faction, ("dprd",))):  # fmt: skip
        if value is not None and role not in roles:
            raise Failure(f"{option} is for {' and '.join(roles)} accounts, not {role}")
    password = _read_password()
    settings = settings_from_env()
    with database(settings, new_cluster=False) as url:
        try:
            run(
                migrated(
                    url,
                    lambda conn: add_user(
                        conn, username, password, role, region, opd, dapil=dapil, name=name, faction=faction
                    ),
                )
            )
        except ValidationFailed as exc:
            raise Failure("; ".join(f"{field}: {message}" for field, message in exc.errors.items())) from None
        except DomainError as exc:
            raise Failure(exc.message) from None
    scope = region or opd or (f"dapil {dapil}" if dapil else "")
    click.echo(f"added {username} ({role}{' ' + scope if scope else ''})")


def _read_password() -> str:
    """At a terminal: asked for twice, without echo. Otherwise the first line of standard input, as UTF-8:
    bytes of another encoding are not a password anyone can type at the sign-in page."""
    if sys.stdin.isatty():
        return _typed_password()
    line = sys.stdin.buffer.readline()
    try:
        return line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise Failure("password: standard input is not UTF-8 text") from None


def _typed_password() -> str:
    try:
        first = getpass.getpass("Password: ")
        again = getpass.getpass("Repeat the password: ")
    except EOFError:
        raise Failure("no password typed: nothing was changed") from None
    except KeyboardInterrupt:
        click.echo("", err=True)
        raise Failure("stopped: nothing was changed") from None
    if first != again:
        raise Failure("the two passwords differ: nothing was changed")
    return first


@user.command("list")
def user_list() -> None:
    """List accounts."""
    from musrenbang.services.accounts import list_users

    settings = settings_from_env()
    with database(settings, create=False) as url:
        rows = run(migrated(url, list_users, existing=True))
    for r in rows:
        scope = r["region"] or r["opd"] or r["dapil"] or "-"
        state = "disabled" if r["disabled_at"] else "active"
        click.echo(f"{r['username']:<24} {r['role']:<12} {scope:<16} {state}")


@user.command("move")
@click.argument("username")
@click.option("--region", default=None, help="A facilitator's new kelurahan, desa or kecamatan code.")
@click.option("--opd", default=None, help="An opd account's new agency code (one of the city settings' agencies).")
@click.option("--dapil", default=None, help="A DPRD member's new daerah pemilihan (one of the city settings').")
def user_move(username: str, region: str | None, opd: str | None, dapil: str | None) -> None:
    """Let an account act for another region, agency or dapil: after a reorganisation retires an agency code
    or the dapil are redrawn (`setup` names the accounts left behind), its people keep their accounts. Ends
    the account's sessions and tokens; what it did before keeps the scope it was done in."""
    from musrenbang.domain.errors import ValidationFailed
    from musrenbang.services.accounts import move_user

    settings = settings_from_env()
    with database(settings, create=False) as url:
        try:
            moved = run(migrated(url, lambda conn: move_user(conn, username, region=region, opd=opd, dapil=dapil),
                                 existing=True))  # fmt: skip
        except ValidationFailed as exc:
            raise Failure("; ".join(f"{field}: {message}" for field, message in exc.errors.items())) from None
    if moved is None:
        raise Failure(f"no account {username!r}")
    role, scope = moved
    click.echo(f"moved {username} ({role}) to {scope}; its sessions and tokens are ended")


@user.command("rename")
@click.argument("username")
@click.option("--name", required=True, help="The name the account is shown by (a DPRD member's: on their pokir).")
@click.option("--faction", default=None, help="A DPRD member's fraksi (left as it is when not given).")
def user_rename(username: str, name: str, faction: str | None) -> None:
    """Correct the name an account is shown by, and a DPRD member's faction: pokir submitted from now on
    carry the new name; those published before keep the name they were published with (the log holds it)."""
    from musrenbang.domain.errors import ValidationFailed
    from musrenbang.services.accounts import rename_user

    settings = settings_from_env()
    with database(settings, create=False) as url:
        try:
            role = run(migrated(url, lambda conn: rename_user(conn, username, name=name, faction=faction),
                                existing=True))  # fmt: skip
        except ValidationFailed as exc:
            raise Failure("; ".join(f"{field}: {message}" for field, message in exc.errors.items())) from None
    if role is None:
        raise Failure(f"no account {username!r}")
    click.echo(f"renamed {username} ({role})")


@user.command("password")
@click.argument("username")
def user_password(username: str) -> None:
    """Set a new password, read from standard input (first line) as `user add` reads it, and end the
    account's sessions and tokens (a forgotten demo password, or one that may have leaked)."""
    from musrenbang.domain.errors import ValidationFailed
    from musrenbang.services.accounts import is_disabled, set_password

    async def changed_on(conn: asyncpg.Connection) -> tuple[bool, bool]:
        return await set_password(conn, username, password), await is_disabled(conn, username)

    password = _read_password()
    settings = settings_from_env()
    with database(settings, create=False) as url:  # an account to change is in a database already there
        try:
            changed, disabled = run(migrated(url, changed_on, existing=True))
        except ValidationFailed as exc:
            raise Failure("; ".join(f"{field}: {message}" for field, message in exc.errors.items())) from None
    if not changed:
        raise Failure(f"no account {username!r}")
    click.echo(f"password changed for {username}; its sessions and tokens are ended")
    if disabled:
        click.echo(f"the account stays disabled: `musrenbang user enable {username}` lets it sign in again")


@user.command("disable")
@click.argument("username")
def user_disable(username: str) -> None:
    """Disable an account and end all its sessions and tokens."""
    from musrenbang.services.accounts import disable_user

    _switched(username, disable_user, f"no active account {username!r}")
    click.echo(f"disabled {username}")


@user.command("enable")
@click.argument("username")
def user_enable(username: str) -> None:
    """Let a disabled account sign in again, with the password it had."""
    from musrenbang.services.accounts import enable_user

    _switched(username, enable_user, f"no disabled account {username!r}")
    click.echo(f"enabled {username}; its password is the one it had: `musrenbang user password {username}` sets"
               " a new one if it may have leaked")


def _switched(username: str, switch: Callable[[asyncpg.Connection, str], Awaitable[bool]], refused: str) -> None:
    """`switch` (disable or enable) applied to the account; Failure(`refused`) when it changed nothing."""
    settings = settings_from_env()
    with database(settings, create=False) as url:  # an account to switch is in a database already there
        changed = run(migrated(url, lambda conn: switch(conn, username), existing=True))
    if not changed:
        raise Failure(refused)
