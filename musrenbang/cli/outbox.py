"""Messages to residents: outbox retry."""

from __future__ import annotations

import datetime as dt

import asyncpg
import click

from musrenbang.cli.common import Day, database, migrated, run, settings_from_env
from musrenbang.cli.group import main
from musrenbang.delivery.channels import CHANNELS


@main.group()
def outbox() -> None:
    """Messages to residents (SMS, WhatsApp, e-mail) waiting in the outbox; /petugas/pesan shows them."""


@outbox.command("retry")
@click.option("--channel", type=click.Choice(CHANNELS), default=None, help="Only messages of this channel.")
@click.option("--since", type=Day(), default=None,
              help="Only messages queued on this day (in the city's time zone) or later.")  # fmt: skip
def outbox_retry(channel: str | None, since: dt.datetime | None) -> None:
    """Queue failed messages again: refused for good by the other side, or given up after days of tries
    (after a mistake in MUSRENBANG_SMTP_URL or MUSRENBANG_SMS_GATEWAY_URL is fixed, say). They are due at
    once, with their tries counted afresh; running servers send them now. Prints how many."""

    async def work(conn: asyncpg.Connection) -> dict[str, int]:
        from musrenbang.delivery.worker import requeue_failed

        start = None if since is None else await _start_of_day(conn, since.date())
        return await requeue_failed(conn, channel=channel, since=start)

    settings = settings_from_env()
    with database(settings, create=False) as url:  # failed messages are in a database already there
        counts = run(migrated(url, work, existing=True))
    total = sum(counts.values())
    detail = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    click.echo(f"re-queued {total} failed message(s)" + (f" ({detail})" if len(counts) > 1 else ""))


async def _start_of_day(conn: asyncpg.Connection, day: dt.date) -> dt.datetime:
    """The first instant of `day` in the city's time zone (WIB before the city is set up)."""
    from musrenbang.domain.city import TIMEZONES
    from musrenbang.services.city import current_on

    city = await current_on(conn)
    offset = dt.timedelta(hours=TIMEZONES.get(city.timezone, 7))
    return dt.datetime.combine(day, dt.time(), dt.timezone(offset))
