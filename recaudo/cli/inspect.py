"""``recaudo decisions``, ``dispatches``, ``dlq`` and ``kpis``: what the pipeline
did, at a terminal, without writing a Kafka consumer.

Decisions, dispatches and dead letters are read from their topics, from the
beginning to where each partition ends when the command starts; KPIs from the
``kpi`` table in Postgres. Tables for people by default; ``--json`` prints one
JSON object per line (JSON Lines) for scripts. Registered on the main CLI with
``cli.add_command``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import click

from recaudo.cli.format import (
    DEAD_LETTER_HEADER,
    DECISION_HEADER,
    DISPATCH_HEADER,
    dead_letter_json,
    dead_letter_row,
    decision_row,
    dispatch_row,
    render_table,
)
from recaudo.contracts.records import (
    CHANNELS,
    ContactDecision,
    DeadLetter,
    DispatchCommand,
    Envelope,
)
from recaudo.kafka.topics import Topics
from recaudo.settings import Settings

JSON_HELP = "One JSON object per line (JSON Lines), for scripts."


def _broker() -> tuple[Settings, Topics]:
    from recaudo.cli.main import _require_broker, resolve_settings

    settings = _require_broker(resolve_settings())
    return settings, Topics.from_settings(settings)


def _records(settings: Settings, topics: list[str]) -> Iterator[Envelope]:
    """The records of ``topics`` that recaudo can read; how many it could not
    is said on stderr (each is in the dead-letter topic, put there by the
    consumer that met it)."""
    from recaudo.kafka.serde import Serde
    from recaudo.kafka.topic_reader import TopicMissingError, read_topics

    serde = Serde(settings)
    unreadable = 0
    try:
        for msg in read_topics(settings, topics):
            try:
                yield serde.deserialize(msg.topic() or "", msg.value())
            except Exception:  # a record that is not ours: counted, not shown
                unreadable += 1
    except (TopicMissingError, TimeoutError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
    if unreadable:
        click.echo(
            f"{unreadable} record(s) could not be read and are left out "
            "(the consumers dead-letter such records: `recaudo dlq`)",
            err=True,
        )


def _latest(items: list[Any], limit: int | None) -> list[Any]:
    items.sort(key=lambda item: item.occurred_at)
    return items if limit is None else items[-limit:]


def _echo_json(objects: Iterable[dict[str, Any]]) -> None:
    for obj in objects:
        click.echo(json.dumps(obj, default=str, ensure_ascii=False))


_LIMIT = click.option(
    "--limit",
    type=click.IntRange(1),
    default=50,
    show_default=True,
    help="Show the latest N (by event time), oldest first.",
)
_ALL = click.option("--all", "show_all", is_flag=True, help="Show all, not only the latest N.")


@click.command(short_help="What the orchestrator decided, and why.")
@click.option("--debtor", "debtor_id", default=None, help="Only this debtor's decisions.")
@click.option(
    "--outcome",
    type=click.Choice(["DISPATCHED", "DEFERRED", "SUPPRESSED"]),
    default=None,
    help="Only decisions with this outcome.",
)
@_LIMIT
@_ALL
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP + " Each is a ContactDecision.")
def decisions(
    debtor_id: str | None, outcome: str | None, limit: int, show_all: bool, as_json: bool
) -> None:
    """The orchestrator's decisions: who, why (trigger and step), on which
    channel, and whether it was dispatched, deferred or suppressed, with the
    reason codes of the rules that fired.

    Read from the contact-decisions topic, from its beginning to where it
    ends now.
    """
    settings, topics = _broker()
    found = [
        r
        for r in _records(settings, [topics.contact_decisions])
        if isinstance(r, ContactDecision)
        and (debtor_id is None or r.debtor_id == debtor_id)
        and (outcome is None or r.outcome == outcome)
    ]
    shown = _latest(found, None if show_all else limit)
    if as_json:
        _echo_json(d.model_dump(mode="json") for d in shown)
        return
    click.echo(render_table(DECISION_HEADER, [decision_row(d) for d in shown]))
    _count(len(shown), len(found), "decision(s)")


def _count(shown: int, found: int, what: str) -> None:
    more = f" (the latest {shown} of {found}: --limit N or --all for more)" if found > shown else ""
    click.echo(f"{shown} {what}{more}", err=True)


@click.command(short_help="Contacts sent to the connectors, with their latest status.")
@click.option(
    "--channel",
    type=click.Choice(list(CHANNELS)),
    default=None,
    help="Only this channel's dispatches [default: every channel].",
)
@click.option("--debtor", "debtor_id", default=None, help="Only this debtor's dispatches.")
@_LIMIT
@_ALL
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help=JSON_HELP + " Each is a DispatchCommand with its latest status.",
)
def dispatches(
    channel: str | None, debtor_id: str | None, limit: int, show_all: bool, as_json: bool
) -> None:
    """The contacts sent to the connectors: when decided, not before when,
    to whom, on which channel and template, and the latest status a
    connector reported (delivered, read, replied, failed...).

    Read from the dispatch.<channel> topics, and the statuses from the
    channel-responses topic, each from its beginning to where it ends now.
    """
    settings, topics = _broker()
    channels = [channel] if channel else list(CHANNELS)
    found = [
        r
        for r in _records(settings, [topics.dispatch(ch) for ch in channels])  # type: ignore[arg-type]
        if isinstance(r, DispatchCommand) and (debtor_id is None or r.debtor_id == debtor_id)
    ]
    shown = _latest(found, None if show_all else limit)
    statuses = _statuses(settings, topics, {d.dispatch_id for d in shown}) if shown else {}
    if as_json:
        _echo_json(
            {**d.model_dump(mode="json"), "status": statuses.get(d.dispatch_id)} for d in shown
        )
        return
    rows = [dispatch_row(d, statuses.get(d.dispatch_id)) for d in shown]
    click.echo(render_table(DISPATCH_HEADER, rows))
    _count(len(shown), len(found), "dispatch(es)")


def _statuses(settings: Settings, topics: Topics, dispatch_ids: set[str]) -> dict[str, str]:
    """The status of each dispatch's latest response (by event time)."""
    from recaudo.contracts.records import ChannelResponse

    latest: dict[str, ChannelResponse] = {}
    for r in _records(settings, [topics.channel_responses]):
        if isinstance(r, ChannelResponse) and r.dispatch_id in dispatch_ids:
            held = latest.get(r.dispatch_id)
            if held is None or r.occurred_at >= held.occurred_at:
                latest[r.dispatch_id] = r
    return {key: r.status for key, r in latest.items()}


# --- dead letters -----------------------------------------------------------------


def _dead_letters(settings: Settings, topics: Topics) -> list[DeadLetter]:
    letters = [r for r in _records(settings, [topics.dlq]) if isinstance(r, DeadLetter)]
    letters.sort(key=lambda letter: letter.occurred_at)
    return letters


@click.group(
    invoke_without_command=True, short_help="Dead letters: list them; republish them once fixed."
)
@click.option(
    "--topic",
    "source_topic",
    default=None,
    help="Only dead letters from this topic (its full name, e.g. recaudo.debt-events).",
)
@_LIMIT
@_ALL
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help=JSON_HELP + " Key, value and header values in base64 (the key as text too).",
)
@click.pass_context
def dlq(
    ctx: click.Context, source_topic: str | None, limit: int, show_all: bool, as_json: bool
) -> None:
    """The dead-letter topic: records a consumer could not read or process,
    each with where it came from (topic, partition, offset), why, and its
    original key, value and headers.

    \b
      recaudo dlq                          list them (the latest 50)
      recaudo dlq republish ID...          send them back once the cause is fixed
      recaudo dlq republish --all --topic T
    """
    if ctx.invoked_subcommand is not None:
        return
    settings, topics = _broker()
    found = [
        letter
        for letter in _dead_letters(settings, topics)
        if source_topic is None or letter.source_topic == source_topic
    ]
    shown = found if show_all else found[-limit:]
    if as_json:
        _echo_json(dead_letter_json(letter) for letter in shown)
        return
    click.echo(render_table(DEAD_LETTER_HEADER, [dead_letter_row(x) for x in shown]))
    _count(len(shown), len(found), "dead letter(s)")


def select_letters(
    letters: list[DeadLetter], ids: Iterable[str], source_topic: str | None, every: bool
) -> list[DeadLetter]:
    """The dead letters named by id (or a unique start of one, 8 characters
    at least), or with ``every`` all those from ``source_topic``."""
    if every:
        return [letter for letter in letters if letter.source_topic == source_topic]
    chosen: dict[str, DeadLetter] = {}
    for wanted in ids:
        wanted = wanted.strip().lower()
        if len(wanted) < 8:
            raise click.BadParameter(f"{wanted!r}: give at least 8 characters of an id")
        # One dead letter may be written twice (the same id): any copy will do.
        matches = {str(x.event_id): x for x in letters if str(x.event_id).startswith(wanted)}
        if not matches:
            raise click.BadParameter(f"no dead letter with id {wanted!r} (see `recaudo dlq`)")
        if len(matches) > 1:
            raise click.BadParameter(f"{wanted!r} starts {len(matches)} ids: give more of it")
        chosen.update(matches)
    return list(chosen.values())


@dlq.command("republish")
@click.argument("ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every dead letter from --topic.")
@click.option(
    "--topic",
    "source_topic",
    default=None,
    help="With --all: the source topic (its full name, e.g. recaudo.debt-events).",
)
def dlq_republish(ids: tuple[str, ...], every: bool, source_topic: str | None) -> None:
    """Send dead letters back to where they came from, once their cause is
    fixed: each letter's original key, value and headers, as they were, to
    its source topic and partition.

    A republished record keeps its event id: the debtor view applies each
    fact once however often it arrives, so republishing a record twice, or one
    that some consumer did read, changes nothing there (the KPIs recognise
    the ids of each debtor's recent events). A record whose cause is not
    fixed is dead-lettered again, under a new id. The dead letters stay in
    the dead-letter topic.
    """
    if every == bool(ids):
        raise click.UsageError("name dead letters by id, or use --all --topic T (not both)")
    if every and not source_topic:
        raise click.UsageError("--all needs --topic: the source topic whose letters to send")
    settings, topics = _broker()
    letters = select_letters(_dead_letters(settings, topics), ids, source_topic, every)
    if not letters:
        click.echo(f"no dead letters from {source_topic}: nothing republished")
        return
    from confluent_kafka import KafkaException

    try:
        done = republish(settings, letters)
    except KafkaException as exc:
        raise click.ClickException(f"republishing failed: {exc}") from exc
    for letter, where in done:
        click.echo(f"republished {letter.event_id} to {where}")
    click.echo(
        f"republished {len(done)} dead letter(s); they keep their event ids, so the "
        "debtor view applies each once. One dead-lettered again (`recaudo dlq`) "
        "still has its cause."
    )
    if len(done) < len(letters):
        sys.exit(1)


def republish(settings: Settings, letters: list[DeadLetter]) -> list[tuple[DeadLetter, str]]:
    """Produce each letter's original key, value and headers to its source
    topic and partition; the letters delivered, with where, in order."""
    from confluent_kafka import Producer

    producer = Producer(settings.producer_config())
    failures: dict[int, str] = {}
    for i, letter in enumerate(letters):

        def report(err: Any, _msg: Any, i: int = i) -> None:
            if err is not None:
                failures[i] = err.str()

        producer.produce(
            letter.source_topic,
            value=letter.value,
            key=letter.key,
            headers=[(h.key, h.value) for h in letter.headers],
            partition=letter.source_partition,
            on_delivery=report,
        )
    left = producer.flush(30)
    done: list[tuple[DeadLetter, str]] = []
    for i, letter in enumerate(letters):
        if i in failures or left:
            why = failures.get(i, "not confirmed within 30 s")
            click.echo(f"NOT republished {letter.event_id}: {why}", err=True)
            continue
        done.append((letter, f"{letter.source_topic}[{letter.source_partition}]"))
    return done


# --- KPIs ---------------------------------------------------------------------------


@click.command(short_help="The KPIs, named and defined as on the dashboard.")
@click.option(
    "--by",
    type=click.Choice(["channel", "bucket", "arm"]),
    default=None,
    help="One row per channel, bucket or strategy arm [default: the overall figures].",
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP + " One per member.")
def kpis(by: str | None, as_json: bool) -> None:
    """The collection KPIs as the pipeline computed them (the kpi table in
    Postgres): the dashboard's figures, under the same names and
    definitions, overall or per channel, bucket or strategy arm.
    """
    import psycopg

    from recaudo.cli.main import _database, resolve_settings
    from recaudo.db.kpi_store import counters_of, read_kpis

    dsn = _database(resolve_settings())
    dimension = by.upper() if by else "ALL"
    try:
        with psycopg.connect(dsn) as conn:
            rows = read_kpis(conn, "TOTAL", dimension)
    except psycopg.errors.UndefinedTable as exc:
        raise click.ClickException(
            "no kpi table yet: the KPI worker creates it when it starts (`recaudo up`)"
        ) from exc
    except psycopg.Error as exc:
        raise click.ClickException(f"reading KPIs from Postgres: {exc}".strip()) from exc
    members = [(row["member"], counters_of(row), row["last_event_at"]) for row in rows]
    from recaudo.cli.format import kpi_json, kpi_members_table, kpi_overall_table

    if as_json:
        _echo_json(kpi_json(dimension, m, c, at) for m, c, at in members)
    elif not members:
        click.echo("no KPIs yet: nothing has been decided or reported")
    elif by is None:
        click.echo(kpi_overall_table(members[0][1]))
    else:
        click.echo(kpi_members_table(by.capitalize(), [(m, c) for m, c, _ in members]))
