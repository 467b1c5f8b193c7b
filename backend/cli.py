"""The command line: serve, migrate, seed-demo, create-api-key, issue-token, ...; the
administration commands (create-org, invite-user, rotate-api-key, ...) are in
`backend.admin_commands`."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError

from backend import administration
from backend.admin_commands import ADMIN_COMMANDS, add_admin_commands
from backend.auth.models import ApiClientKind
from backend.auth.service import issue_token_for_email
from backend.errors import DomainError
from backend.migrations import NotPrintable, downgrade, upgrade, upgrade_async
from backend.observability.logs import configure_logging, logging_config
from backend.orgs.models import Organization, User
from backend.orgs.service import agent_by_reference, organization_by_slug
from backend.settings import Settings, SettingsError, check_startup, load_settings
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.viewer import Viewer

DEMO_ORGANIZATIONS = ("demo", "acme")
SDL_PATH = Path(__file__).resolve().parent.parent / "graphql_schema" / "schema.graphql"
ROLE_ORDER = {"executive": 0, "admin": 1, "manager": 2, "rep": 3}
SLACK_SIGNING_SECRET_ENV = "SLACK_SIGNING_SECRET"
SLACK_BOT_TOKEN_ENV = "SLACK_BOT_TOKEN"


class CommandError(Exception):
    """A command could not do its work; the message says why, for a person."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backend", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="migrate, then serve HTTP and GraphQL with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--reload", action="store_true", help="restart on code changes")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="seed the demo organisations when the database is empty; print logins and tokens",
    )

    worker = commands.add_parser("worker", help="run the periodic jobs (close expired windows)")
    worker.add_argument("--once", action="store_true", help="run each job once, then exit")

    export = commands.add_parser("export-schema", help="write the GraphQL SDL to a file")
    export.add_argument("--output", default=str(SDL_PATH), help=f"default: {SDL_PATH}")

    migrate = commands.add_parser(
        "migrate",
        help="bring the database schema up to date (or to a named revision)",
        description="Bring the database schema to the newest revision (head), or to --to REV; "
        "--downgrade REV takes it back. On PostgreSQL, processes migrating one database at "
        "once take turns (an advisory lock): the first migrates, the others find it done. "
        "Revisions are the file name prefixes in backend/migrations/versions/ (0001, 0002, ...).",
    )
    target = migrate.add_mutually_exclusive_group()
    target.add_argument(
        "--to", metavar="REV", default="head", help="upgrade to REV (default: head)"
    )
    target.add_argument(
        "--downgrade",
        metavar="REV",
        help="downgrade to REV (a revision, -1 for one step back, base for no table at all)",
    )
    migrate.add_argument(
        "--sql",
        action="store_true",
        help="print the SQL instead of running it, for a DBA to review or run; nothing is read "
        "from the database, so give the range FROM:TO, e.g. --to 0019:head or --downgrade "
        "0020:0019 (an upgrade printed as SQL starts at 0007 or later)",
    )
    seed = commands.add_parser(
        "seed-demo",
        help="fill an empty database with the demo organisations",
        description="Fill an empty database with the demo organisations (shows progress).",
    )
    seed.add_argument(
        "--scale",
        type=_positive_scale,
        default=1.0,
        metavar="FACTOR",
        help="multiply each agent's number of actions (and so outcomes, signals, feedback) "
        "by FACTOR, a positive number (default 1: about 35,000 actions; 10: about 350,000)",
    )

    key = commands.add_parser("create-api-key", help="create an API key; prints it once, last")
    key.add_argument("--org", required=True, help="organisation slug")
    key.add_argument("--kind", required=True, choices=[k.value for k in ApiClientKind])
    key.add_argument("--scopes", help="comma-separated scopes (default: the kind's defaults)")
    key.add_argument("--agent", help="agent id or name (required for --kind agent)")
    key.add_argument("--name", help="a label for the key")

    token = commands.add_parser("issue-token", help="print a signed bearer token for a user")
    token.add_argument("--email", required=True)

    webhook = commands.add_parser(
        "webhook-secret", help="print an organisation's webhook signing secret, last"
    )
    webhook.add_argument("--org", required=True, help="organisation slug")

    slack = commands.add_parser(
        "slack-config", help="store an organisation's Slack app settings (secrets encrypted)"
    )
    slack.add_argument("--org", required=True, help="organisation slug")
    slack.add_argument(
        "--secrets-from-stdin",
        action="store_true",
        help="read the Signing Secret, then the Bot User OAuth Token (xoxb-...), one a line, "
        f"from standard input; without it, from {SLACK_SIGNING_SECRET_ENV} and "
        f"{SLACK_BOT_TOKEN_ENV} (never from arguments, which ps and shell history show)",
    )
    slack.add_argument("--api-base-url", help="Slack Web API base (default: Slack's)")
    slack.add_argument("--team-id", help="the workspace id T...; default: asked with auth.test")
    slack.add_argument(
        "--default-channel",
        help="where to post for reps without a Slack id, and alerts whose rule names no channel",
    )

    commands.add_parser(
        "rotate-secrets",
        help="re-encrypt the stored secrets under SECRET_KEY (the last step of a key rotation)",
        description="Re-encrypt every stored secret (Slack signing secrets and bot tokens, "
        "partner webhook signing secrets) under SECRET_KEY. Secrets still under a key of "
        "SECRET_KEY_PREVIOUS are read with it; once this has run, SECRET_KEY_PREVIOUS can be "
        "removed (docs/operations.md, 'Rotate keys'). Safe to run again.",
    )

    report = commands.add_parser(
        "report",
        help="render a periodic report as a person would receive it (nothing is sent)",
        description="Render a periodic report as the recipient's viewer and write it as an "
        ".eml file (or, without --out, print its subject and text). Nothing is sent.",
    )
    report.add_argument(
        "--kind", required=True, choices=["manager_daily", "executive_weekly", "rep_weekly"]
    )
    report.add_argument("--to", required=True, metavar="EMAIL", help="the recipient (a user)")
    report.add_argument("--team", help="manager_daily: team id or name (default: their own)")
    report.add_argument(
        "--period", help="YYYY-MM-DD, a day of the period (default: yesterday, UTC)"
    )
    report.add_argument("--out", help="write the e-mail to this .eml file")

    gmail = commands.add_parser(
        "gmail-addon-deployment", help="print the Gmail add-on's deployment descriptor (JSON)"
    )
    gmail.add_argument(
        "--base-url",
        help="where Google reaches this service (default: "
        "GMAIL_ADDON_BASE_URL, else PUBLIC_BASE_URL)",
    )
    gmail.add_argument("--name", help="the add-on's name in Gmail")
    gmail.add_argument("--logo-url", help="the add-on's icon (an https URL)")
    add_admin_commands(commands)
    return parser


def _positive_scale(text: str) -> float:
    """argparse type of ``--scale``: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "export-schema":
        from graphql_schema.schema import sdl

        Path(args.output).write_text(sdl())
        print(f"wrote {args.output}")
        return 0
    try:
        settings = load_settings()
        configure_logging(settings)  # LOG_LEVEL, LOG_FORMAT (json or text)
        check_startup(settings)  # refuses unsafe production settings, logs doubtful ones
        if args.command == "serve":
            return _serve(settings, args)
        if args.command == "gmail-addon-deployment":  # needs no database
            return _gmail_addon_deployment(settings, args)
        if args.command == "migrate":  # needs no state: Alembic opens its own connection
            return _migrate(settings, args)
        handler = COMMANDS[args.command]
        return asyncio.run(_with_state(settings, lambda state: handler(state, args)))
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (DomainError, CommandError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OperationalError, DBAPIError, OSError) as exc:
        print(f"error: cannot use the database: {_first_line(exc)}", file=sys.stderr)
        return 1


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


async def _with_state(settings: Settings, work: Callable[[AppState], Awaitable[int]]) -> int:
    # Here, not at the top: the handlers bring the whole learning loop and the engine
    # (statsmodels: about 2 s), which `--help`, `migrate` and key commands do not need.
    from backend.handlers import open_state

    state = open_state(settings)
    try:
        return await work(state)
    finally:
        await state.close()


async def _worker(state: AppState, args: argparse.Namespace) -> int:
    from backend.worker import run_jobs_once, run_worker

    await upgrade_async(state.settings.database_url)
    if args.once:
        done = await run_jobs_once(state)
        for name, count in done.items():
            print(f"{name}: {'failed' if count < 0 else count}")
        return 1 if any(count < 0 for count in done.values()) else 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print("worker running; Ctrl-C stops it", file=sys.stderr)
    await run_worker(state, stop=stop)
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from alembic.util import CommandError as AlembicError

    url = settings.database_url
    where = settings.database.render_as_string()
    try:
        if args.downgrade is not None:
            downgrade(url, args.downgrade, sql=args.sql)
            done = f"database downgraded to {args.downgrade} ({where})"
        else:
            upgrade(url, args.to, sql=args.sql)
            done = f"database is at {args.to} ({where})"
    except (AlembicError, NotPrintable) as exc:
        option = "--downgrade" if args.downgrade is not None else "--to"
        raise CommandError(f"{option}: {exc}") from None
    if args.sql:
        return 0
    up_to_date = args.to == "head" and args.downgrade is None
    print(f"database is up to date ({where})" if up_to_date else done)
    return 0


async def _seed_demo(state: AppState, args: argparse.Namespace) -> int:
    from backend.demo.seed import DatabaseNotEmptyError, seed_demo

    await upgrade_async(state.settings.database_url)
    try:
        report = await seed_demo(state.sessions, progress=True, scale=args.scale)
    except DatabaseNotEmptyError as exc:
        print(f"seed-demo did nothing: {exc}")
        return 0
    print(report.summary())
    await _print_demo_logins(state)
    return 0


async def _create_api_key(state: AppState, args: argparse.Namespace) -> int:
    kind = ApiClientKind(args.kind)
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()] if args.scopes else None
    async with transaction(state.sessions) as session:
        org = await organization_by_slug(session, args.org)
        agent_id = None
        if args.agent is not None:
            agent = await agent_by_reference(session, organization_id=org.id, reference=args.agent)
            agent_id = agent.id
        created = await administration.create_api_key(
            session,
            Viewer.system(org.id),
            kind=kind,
            name=args.name or f"{kind.value} key" + (f" for agent {agent_id}" if agent_id else ""),
            scopes=scopes,
            agent_id=agent_id,
            now=state.now(),
        )
    print(
        f"created {kind.value} key #{created.client.id} for {org.slug} "
        f"with scopes {', '.join(created.client.scopes)}",
        file=sys.stderr,
    )
    print(created.key)
    return 0


async def _issue_token(state: AppState, args: argparse.Namespace) -> int:
    async with transaction(state.sessions) as session:
        token = await issue_token_for_email(session, state.settings, args.email)
    print(token)
    return 0


async def _webhook_secret(state: AppState, args: argparse.Namespace) -> int:
    from backend.webhooks.signing import webhook_secret

    async with transaction(state.sessions) as session:
        org = await organization_by_slug(session, args.org)
    print(
        f"webhook secret of {org.slug} (derived from SECRET_KEY: rotating it rotates this one)",
        file=sys.stderr,
    )
    print(webhook_secret(state.settings.secret_key, org.slug))
    return 0


def _gmail_addon_deployment(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from backend.gmail.deployment import deployment_descriptor
    from backend.gmail.endpoints import addon_base_url

    options = {k: v for k, v in (("name", args.name), ("logo_url", args.logo_url)) if v}
    try:
        descriptor = deployment_descriptor(args.base_url or addon_base_url(settings), **options)
    except ValueError as exc:
        raise CommandError(f"--base-url: {exc}") from None
    configured = addon_base_url(settings)
    if args.base_url and args.base_url.rstrip("/") != configured:
        print(
            f"note: the server expects tokens addressed to {configured}/gmail/...; run it with "
            f"GMAIL_ADDON_BASE_URL={args.base_url.rstrip('/')}",
            file=sys.stderr,
        )
    print(json.dumps(descriptor, indent=2, ensure_ascii=False))
    return 0


def _slack_secrets(args: argparse.Namespace) -> tuple[str, str]:
    """The Slack app's Signing Secret and bot token: two lines of standard input with
    --secrets-from-stdin, else the environment; never arguments."""
    if args.secrets_from_stdin:
        lines = sys.stdin.read().splitlines()
        if len(lines) < 2:
            raise CommandError(
                "--secrets-from-stdin: give the Signing Secret, then the bot token, one a line"
            )
        return lines[0].strip(), lines[1].strip()
    signing_secret = os.environ.get(SLACK_SIGNING_SECRET_ENV)
    bot_token = os.environ.get(SLACK_BOT_TOKEN_ENV)
    if signing_secret is None or bot_token is None:
        raise CommandError(
            f"set {SLACK_SIGNING_SECRET_ENV} and {SLACK_BOT_TOKEN_ENV}, or pass them on standard "
            "input with --secrets-from-stdin"
        )
    return signing_secret, bot_token


async def _slack_config(state: AppState, args: argparse.Namespace) -> int:
    from backend.slack.client import SlackApiError, SlackClient
    from backend.slack.models import DEFAULT_API_BASE_URL
    from backend.slack.service import configure_slack

    signing_secret, bot_token = _slack_secrets(args)
    base_url = args.api_base_url or DEFAULT_API_BASE_URL
    team_id = args.team_id
    if team_id is None:
        try:
            team_id = await SlackClient(token=bot_token, base_url=base_url).team_id()
        except SlackApiError as exc:
            raise CommandError(f"the bot token: {exc}") from None
    async with transaction(state.sessions) as session:
        org = await organization_by_slug(session, args.org)
        await configure_slack(
            session,
            organization_id=org.id,
            secret_key=state.settings.secret_key,
            slack_team_id=team_id,
            signing_secret=signing_secret,
            bot_token=bot_token,
            api_base_url=base_url,
            default_channel=args.default_channel,
        )
    print(f"Slack configured for {org.slug}: team {team_id}, API {base_url}")
    return 0


async def _rotate_secrets(state: AppState, _: argparse.Namespace) -> int:
    from backend.partner_webhooks import signing as webhook_signing
    from backend.partner_webhooks.models import WebhookEndpoint
    from backend.slack import secrets as slack_secrets
    from backend.slack.models import SlackInstallation

    key = state.settings.secret_key
    unreadable: list[str] = []
    installations = endpoints = 0
    async with transaction(state.sessions) as session:
        for installation in await session.scalars(select(SlackInstallation)):
            try:
                signing_secret = slack_secrets.reencrypt_secret(
                    key, installation.signing_secret_encrypted, what="signing secret"
                )
                bot_token = slack_secrets.reencrypt_secret(
                    key, installation.bot_token_encrypted, what="bot token"
                )
            except slack_secrets.SecretUnreadable as exc:
                unreadable.append(f"Slack team {installation.slack_team_id}: {exc}")
                continue
            installation.signing_secret_encrypted = signing_secret
            installation.bot_token_encrypted = bot_token
            installations += 1
        for endpoint in await session.scalars(select(WebhookEndpoint)):
            try:
                secret = webhook_signing.reencrypt_secret(key, endpoint.secret_encrypted)
            except webhook_signing.SecretUnreadable as exc:
                unreadable.append(f"partner webhook endpoint {endpoint.id}: {exc}")
                continue
            endpoint.secret_encrypted = secret
            endpoints += 1
    print(
        f"re-encrypted under SECRET_KEY: {installations} Slack installation(s), "
        f"{endpoints} partner webhook endpoint(s)"
    )
    for problem in unreadable:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if unreadable else 0


async def _report(state: AppState, args: argparse.Namespace) -> int:
    import datetime as dt

    from backend.auth.service import viewer_of_user
    from backend.orgs.models import Team
    from backend.reports.mail import email_bytes, report_email
    from backend.reports.render import render_report
    from backend.reports.rendered import Links, Period

    now = state.now()
    today = now.date()
    try:
        day = dt.date.fromisoformat(args.period) if args.period else today - dt.timedelta(days=1)
    except ValueError:
        raise CommandError(f"--period: expected YYYY-MM-DD, got {args.period!r}") from None
    period = Period.of(args.kind, day)
    if period.end > today:
        raise CommandError(
            f"--period: the {args.kind} period {period.start}..{period.last_day} is not over yet "
            f"(today is {today}, UTC)"
        )
    async with state.sessions() as session:
        user = await session.scalar(select(User).where(User.email == args.to.strip().lower()))
        viewer = await viewer_of_user(session, user.id) if user is not None else None
        if user is None or viewer is None:
            raise CommandError(f"--to: no active user {args.to!r}")
        team_id = None
        if args.team is not None:
            by = Team.id == int(args.team) if args.team.isdigit() else Team.name == args.team
            team_id = await session.scalar(
                select(Team.id).where(by, Team.organization_id == user.organization_id)
            )
            if team_id is None:
                raise CommandError(f"--team: no team {args.team!r} in the user's organisation")
        elif args.kind == "manager_daily" and viewer.team_ids:
            team_id = min(viewer.team_ids)
    report = await render_report(
        state.reads,
        viewer,
        kind=args.kind,
        period=period,
        links=Links(state.settings.public_base_url),
        today=today,
        now=now,
        team_id=team_id,
    )
    if args.out is None:
        print(report.subject)
        print()
        print(report.text)
        return 0
    message = report_email(
        report,
        sender=state.settings.smtp_sender,
        to=user.email,
        message_id=f"report-preview-{user.id}-{args.kind}-{report.period.start}",
        unsubscribe_url=None,
        now=now,
    )
    Path(args.out).write_bytes(email_bytes(message))
    print(f"wrote {args.out}: {report.subject} ({len(report.charts)} charts)")
    return 0


async def _print_demo_logins(state: AppState) -> None:
    async with transaction(state.sessions) as session:
        rows = (
            await session.execute(
                select(User, Organization.slug)
                .join(Organization, Organization.id == User.organization_id)
                .where(Organization.slug.in_(DEMO_ORGANIZATIONS))
            )
        ).all()
        if not rows:
            return
        rows = sorted(
            rows,
            key=lambda r: (
                DEMO_ORGANIZATIONS.index(r[1]),
                ROLE_ORDER.get(r[0].role, 9),
                len(r[0].email),
                r[0].email,
            ),
        )
        print("\nDemo logins (use as 'Authorization: Bearer <token>'):")
        for user, slug in rows:
            token = await issue_token_for_email(session, state.settings, user.email)
            print(f"  {slug:5} {user.role:9} {user.email:22} {token}")


async def _prepare_demo(state: AppState, seed: bool) -> None:
    await upgrade_async(state.settings.database_url)
    if seed:
        from backend.demo.seed import DatabaseNotEmptyError, seed_demo

        try:
            report = await seed_demo(state.sessions, progress=True)
            print(report.summary())
        except DatabaseNotEmptyError:
            pass
        await _print_demo_logins(state)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    asyncio.run(_with_state(settings, lambda state: _prepare_then_zero(state, args.demo)))
    base = f"http://{args.host}:{args.port}"
    print(
        f"\nServing on {base}/  (dashboard)\n  GraphQL and GraphiQL: {base}/graphql\n"
        f"  health: {base}/healthz  readiness: {base}/readyz\n",
        flush=True,
    )
    uvicorn.run(
        "backend.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        reload=args.reload,
        log_level=settings.log_level.lower(),
        log_config=logging_config(settings),  # each server process logs as this one does
    )
    return 0


async def _prepare_then_zero(state: AppState, seed: bool) -> int:
    await _prepare_demo(state, seed)
    return 0


COMMANDS: dict[str, Callable[[AppState, argparse.Namespace], Awaitable[int]]] = {
    "worker": _worker,
    "seed-demo": _seed_demo,
    "create-api-key": _create_api_key,
    "issue-token": _issue_token,
    "webhook-secret": _webhook_secret,
    "slack-config": _slack_config,
    "rotate-secrets": _rotate_secrets,
    "report": _report,
    **ADMIN_COMMANDS,
}
