"""`gridgov accounts`: create, list and disable staff accounts, reset passwords, enrol TOTP.

The console is trusted as a city admin: whoever runs it already holds the database credentials.
Passwords are typed at a hidden prompt or piped with `--password-stdin`, never given as an
argument, where they would end up in the shell history and the process list.
"""

from __future__ import annotations

import sys

import click

from gridgov.cli.common import pad, reports_errors, runtime_from
from gridgov.cli.grids import COMMIT_HINT
from gridgov.services.accounts import AccountRole, AccountService

ROLE_HELP = ", ".join(
    f"{r.value} {r.label_zh}" for r in AccountRole if r is not AccountRole.RESIDENT
)

password_stdin_option = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)


def accounts_from(ctx: click.Context) -> AccountService:
    """The account service on the configured store."""
    return runtime_from(ctx).accounts


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt(
        "密码 / password", hide_input=True, confirmation_prompt="再输入一次 / repeat"
    )
    return password


@click.group()
def accounts() -> None:
    """账号 · Staff accounts: sign-in, roles and scope (see docs/security.md)."""


@accounts.command()
@click.argument("username")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in AccountRole if r is not AccountRole.RESIDENT]),
    help=ROLE_HELP,
)
@click.option("--scope", default=None, help="Grid code whose subtree the account works in.")
@click.option("--department", default=None, help="Department code (department handlers).")
@click.option("--name", "display_name", default="", help="Display name, e.g. 张三.")
@password_stdin_option
@click.option("--commit", is_flag=True, help="Create the account (otherwise preview).")
@click.pass_context
@reports_errors
def create(
    ctx: click.Context,
    username: str,
    role: str,
    scope: str | None,
    department: str | None,
    display_name: str,
    password_stdin: bool,
    commit: bool,
) -> None:
    """Create an account; asks for its password (10+ characters, not the username)."""
    label = AccountRole(role).label_zh
    if not commit:
        click.echo(
            f"将创建账号 / would create account {username}: {role} {label}, "
            f"scope {scope or '-'}, department {department or '-'}"
        )
        click.echo(COMMIT_HINT)
        return
    password = read_password(password_stdin)
    account = accounts_from(ctx).create(
        username,
        password,
        role,
        scope_code=scope,
        department_code=department,
        display_name=display_name,
    )
    click.echo(
        f"已创建账号 / created account {account.username} ({account.role.label_zh}, "
        f"scope {account.scope_code or '全市 city'})"
    )


@accounts.command("list")
@click.pass_context
@reports_errors
def list_(ctx: click.Context) -> None:
    """List accounts with role, scope and state."""
    found = accounts_from(ctx).list()
    if not found:
        click.echo("还没有账号 / no accounts yet")
    for a in found:
        state = "disabled 已停用" if a.disabled_at else "active"
        totp = " totp" if a.totp_enabled else ""
        click.echo(
            f"{a.username:<24} {pad(a.role.label_zh, 14)} {a.role.value:<20} "
            f"{a.scope_code or '-':<14} {a.department_code or '-':<32} {state}{totp}"
        )


@accounts.command()
@click.argument("username")
@click.option("--commit", is_flag=True, help="Disable the account (otherwise preview).")
@click.pass_context
@reports_errors
def disable(ctx: click.Context, username: str, commit: bool) -> None:
    """Disable an account: it cannot sign in, and its sessions and tokens stop working."""
    service = accounts_from(ctx)
    account = service.get(username)
    if not commit:
        click.echo(f"将停用账号 / would disable account {account.username}")
        click.echo(COMMIT_HINT)
        return
    service.disable(username)
    click.echo(f"已停用账号 / disabled account {account.username}; sessions and tokens revoked")


@accounts.command("reset-password")
@click.argument("username")
@password_stdin_option
@click.pass_context
@reports_errors
def reset_password(ctx: click.Context, username: str, password_stdin: bool) -> None:
    """Set a new password; the account's sessions and tokens stop working."""
    service = accounts_from(ctx)
    service.get(username)
    service.reset_password(username, read_password(password_stdin))
    click.echo(f"已重置密码 / password reset for {username}; sessions and tokens revoked")


@accounts.group()
def totp() -> None:
    """动态口令 · TOTP second factor (recommended for every admin)."""


@totp.command("enable")
@click.argument("username")
@click.option("--code", default=None, help="A code from the app (otherwise asked for).")
@click.pass_context
@reports_errors
def totp_enable(ctx: click.Context, username: str, code: str | None) -> None:
    """Enrol an authenticator app and require its codes at sign-in from now on."""
    service = accounts_from(ctx)
    enrollment = service.begin_totp(username)
    click.echo("在验证器应用中添加以下账号 / add this account to the authenticator app:")
    click.echo(f"  secret: {enrollment.secret}")
    click.echo(f"  uri:    {enrollment.provisioning_uri}")
    entered = code or click.prompt("应用显示的 6 位口令 / the 6-digit code the app shows")
    codes = service.confirm_totp(username, entered)
    click.echo("已启用动态口令。恢复码只显示这一次，请妥善保存 / TOTP enabled. Recovery codes,")
    click.echo("shown only now; each works once in place of a code:")
    for recovery in codes:
        click.echo(f"  {recovery}")
