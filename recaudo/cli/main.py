"""``recaudo``: the command line.

Every command reads its configuration from the environment (see
``recaudo settings``). With no ``KAFKA_BOOTSTRAP_SERVERS`` set, commands attach
to the embedded runtime that ``recaudo up`` started.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from recaudo.cli.deploy import deploy
from recaudo.cli.inspect import decisions, dispatches, dlq, kpis
from recaudo.cli.learn import learn
from recaudo.contracts.records import Bucket, Channel
from recaudo.settings import Settings, get_settings
from recaudo.understanding.command import understand_command


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # pgserver narrates every pg_ctl call at INFO; its failures still show.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    # Every command that runs a service starts here: its traces and metrics
    # start with its logs (exported when OTEL_EXPORTER_OTLP_ENDPOINT is set).
    from recaudo.observability import telemetry

    telemetry.setup(settings)


def resolve_settings() -> Settings:
    """The environment's settings; attached to ``recaudo up``'s services when
    the environment names none."""
    settings = get_settings()
    if not settings.uses_embedded_services:
        return settings
    from recaudo.embedded.attach import attach

    return attach(settings)


def _require_broker(settings: Settings) -> Settings:
    if settings.kafka_bootstrap_servers is None:
        raise click.ClickException(
            "no broker: start one with `recaudo up` (in another terminal, or "
            "`recaudo up --detach`), or set KAFKA_BOOTSTRAP_SERVERS=host:port."
        )
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="recaudo")
def cli() -> None:
    """recaudo: Kafka-native contact pipeline for debt collection.

    \b
    Quick start (embedded broker and Postgres, nothing to install):
      recaudo demo                    a simulated month of collections, then KPIs
      recaudo up                      start everything; Ctrl-C stops it
      recaudo publish examples/portfolio.jsonl
      recaudo status
      recaudo decisions / dispatches / dlq / kpis   what the pipeline did
      recaudo down
    """


# --- runtime ---------------------------------------------------------------------


@cli.command()
@click.option("--detach", is_flag=True, help="Start in the background and return once ready.")
@click.option(
    "--workers",
    type=click.IntRange(1, 16),
    default=1,
    show_default=True,
    help="Replicas of each stream worker and connector.",
)
def up(detach: bool, workers: int) -> None:
    """Start the pipeline: broker, Postgres, topics, stream workers, connectors, dashboard,
    debtors' portal and agent desk (the desk once an agent is configured: see docs/desk.md).

    Without KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL it starts its own Tansu broker
    and Postgres (data in RECAUDO_STATE_DIR, default ~/.recaudo); with them set
    it starts none of its own. Its own broker starts empty: what was published
    to it before is kept in the state directory and replayed first, and the
    view and KPIs are rebuilt from it (nobody is contacted again).
    """
    from recaudo.embedded import runtime
    from recaudo.embedded.workers import worker_specs

    settings = get_settings()
    _configure_logging(settings)
    if detach:
        sys.exit(runtime.run_detached(settings, workers=workers, progress=click.echo))
    specs = worker_specs(workers, portal=True, desk=True)
    sys.exit(runtime.run_up(settings, specs, progress=click.echo))


@cli.command()
@click.option(
    "--debtors",
    type=click.IntRange(1),
    default=2_000,
    show_default=True,
    help="Size of the generated portfolio.",
)
@click.option(
    "--days",
    type=click.IntRange(1, 366),
    default=30,
    show_default=True,
    help="Simulated days of collections.",
)
@click.option(
    "--minutes",
    type=click.FloatRange(0.1),
    default=None,
    help="Real minutes the simulated days take [default: 3 per 2,000 debtors, at least 3].",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Portfolio seed.")
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the HTML report [default: <state dir>/demo/report.html].",
)
@click.option(
    "--keep-running",
    is_flag=True,
    help="After the report, keep everything up (the dashboard live) until Ctrl-C.",
)
def demo(
    debtors: int,
    days: int,
    minutes: float | None,
    seed: int,
    report: Path | None,
    keep_running: bool,
) -> None:
    """Run a simulated month of collections through the real pipeline; print its KPIs.

    Starts the embedded broker, Postgres, stream workers, simulated connectors
    and dashboard (its own, in <state dir>/demo, wiped first), generates a
    portfolio across the supported jurisdictions, and lets the bank publish its
    events while every process reads one accelerated clock. Debtors answer the
    contacts (payments, promises). At the end: the KPIs the pipeline computed,
    and an HTML report. Ctrl-C stops early and still reports.

    It always runs its own embedded services: KAFKA_BOOTSTRAP_SERVERS,
    DATABASE_URL and SCHEMA_REGISTRY_URL are ignored, so a demo never writes
    to a real cluster.
    """
    from recaudo.demo import DemoPlan, run_demo

    settings = get_settings()
    _configure_logging(settings)
    if minutes is None:
        # On two cores the pipeline keeps up with about 2,000 debtors per 3 minutes
        # at a latency of a few simulated hours (quiet-hour windows stay meaningful).
        minutes = 3.0 * max(1.0, debtors / 2_000)
    plan = DemoPlan(debtors=debtors, days=days, seconds=minutes * 60, seed=seed)
    sys.exit(
        run_demo(
            plan,
            settings.state_dir / "demo",
            report=report,
            echo=click.echo,
            keep_running=keep_running,
        )
    )


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        import signal

        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _worker_exit_lines(report: Mapping[str, Any], logs: Path) -> list[str]:
    """Each worker that exited since `recaudo up` started it, crash-looping first."""
    from recaudo.embedded.state import CRASH_LOOP_EXITS, CRASH_LOOP_WINDOW_S

    exited = {n: w for n, w in report["worker_exits"].items() if w["last_exit_code"] is not None}
    if not exited:
        return []
    window = f"{CRASH_LOOP_WINDOW_S / 60:.0f} min"
    lines = ["workers that exited since `recaudo up` started them:"]
    for name, w in sorted(exited.items(), key=lambda kv: (not kv[1]["crash_looping"], kv[0])):
        verdict = (
            f"CRASH-LOOPING ({w['exits_recently']} exits in {window})"
            if w["crash_looping"]
            else f"{w['exits_recently']} exit(s) in {window}"
        )
        lines.append(
            f"  {name:<24} {verdict}; restarts {w['restarts']}; "
            f"last {_describe_exit(w['last_exit_code'])}, {w['last_exit_ago_s']:.0f} s ago"
        )
        lines.append(f"  {'':<24} last error: {w['last_error'] or '(no error line in its log)'}")
        lines.append(f"  {'':<24} log: {logs / f'{name}.log'}")
    if report["crash_looping"]:
        lines.append(
            f"crash-looping: {', '.join(report['crash_looping'])} (exited {CRASH_LOOP_EXITS} "
            f"or more times in {window}). The supervisor keeps restarting it, but it will "
            "not stay up until what its log shows is fixed."
        )
    return lines


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """Show what `recaudo up` is running, and each worker's restarts, last exit
    code and last error line.

    \b
    Exit status:
      0  running, no worker crash-looping
      1  not running
      2  running, but a worker is crash-looping: it exited 3 or more times
         in the last 5 minutes (its log in the state dir's logs/ says why)
    """
    import time

    from recaudo.embedded import runtime
    from recaudo.embedded.state import log_dir, read_worker_exits

    settings = get_settings()
    report = runtime.run_status(settings)
    if report.get("running"):
        report.update(runtime.page_lines(settings, report["workers"]))
    if report.get("running"):
        now = time.time()
        exits = read_worker_exits(settings.state_dir, report["supervisor_pid"])
        report["worker_exits"] = {name: e.report(now) for name, e in exits.items()}
        report["crash_looping"] = sorted(n for n, e in exits.items() if e.crash_looping(now))
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        click.echo(runtime.format_status(report))
        for page in ("dashboard", "portal", "desk"):
            if report.get(page):
                click.echo(f"  {page + ' page':<24} {report[page]}")
        if report.get("running"):
            for line in _worker_exit_lines(report, log_dir(settings.state_dir)):
                click.echo(line)
    if not report.get("running"):
        sys.exit(1)
    sys.exit(2 if report["crash_looping"] else 0)


@cli.command()
@click.option("--timeout", type=float, default=20.0, show_default=True, help="Seconds to wait.")
def down(timeout: float) -> None:
    """Stop everything `recaudo up` started (no process left behind)."""
    from recaudo.embedded import runtime

    if runtime.run_down(get_settings(), timeout_s=timeout):
        click.echo("recaudo stopped.")
    else:
        click.echo("recaudo was not running.")


# --- topics ----------------------------------------------------------------------


@cli.group()
def topics() -> None:
    """The topic catalogue."""


@topics.command("list")
def topics_list() -> None:
    """Print the catalogue: name, partitions, cleanup policy, retention, record."""
    from recaudo.kafka.topics import Topics

    for t in Topics.from_settings(get_settings()):
        retention = (
            "forever" if t.spec.retention_ms < 0 else f"{t.spec.retention_ms // 86_400_000}d"
        )
        click.echo(
            f"{t.name:<32} {t.partitions:>3}p  {t.spec.cleanup_policy:<8} {retention:>8}  "
            f"{t.spec.record or '(internal)':<16} {t.spec.description}"
        )


@topics.command("create")
def topics_create() -> None:
    """Create missing catalogue topics with explicit configs (idempotent)."""
    from recaudo.kafka.topics_admin import ensure_topics

    settings = _require_broker(resolve_settings())
    created = ensure_topics(settings)
    click.echo(f"created {len(created)} topic(s)" + (": " + ", ".join(created) if created else ""))


# --- publishing --------------------------------------------------------------------


DELIMITER_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
#: Rejected rows echoed to the terminal; all of them are in the rejects file.
REJECTS_SHOWN = 20


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default=None,
    help="Default: from the file's extension (.jsonl, .ndjson, .json; .csv, .tsv, .txt).",
)
@click.option(
    "--source",
    default="recaudo-publish",
    show_default=True,
    help="CloudEvents source for rows that name none.",
)
@click.option(
    "--encoding",
    default=None,
    help="The file's text encoding (e.g. utf-8, cp1252, latin-1, utf-16) [default: UTF-8, "
    "with or without a byte-order mark; UTF-16 with one; else Windows-1252 (cp1252)].",
)
@click.option(
    "--delimiter",
    type=click.Choice(list(DELIMITER_NAMES)),
    default=None,
    help="CSV column separator [default: found from the header].",
)
@click.option(
    "--decimal-comma/--decimal-point",
    "decimal_comma",
    default=None,
    help="CSV numbers write decimals with a comma (1.234,56) or a point (1,234.56) "
    "[default: comma when the file is ';'-separated, else point].",
)
@click.option(
    "--rejects",
    "rejects_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to keep the rejected rows [default: FILE.rejects.jsonl beside FILE].",
)
@click.option(
    "--backfill",
    is_flag=True,
    help="The file is history: fold it into the debtor view without contacting anyone "
    "about it (each event carries the recaudo-backfill header). Use it to load past events.",
)
def publish(
    file: Path,
    fmt: str | None,
    source: str,
    encoding: str | None,
    delimiter: str | None,
    decimal_comma: bool | None,
    rejects_path: Path | None,
    backfill: bool,
) -> None:
    """Publish debt events and profiles from a JSON Lines or CSV file.

    Every valid row is published. A row that is not valid is not: it is kept
    with its line number, reason and text in FILE.rejects.jsonl (one JSON
    object a line), and the first ones are shown; fix them and publish them
    again. Exit status 1 if any row was rejected.

    A file whose header or encoding is wrong is refused whole, before
    anything is published, with what to fix.
    """
    from recaudo.contracts.bank_files import EventFile, RejectsFile, RowError, rejects_path_for
    from recaudo.kafka.producer import RecaudoProducer

    try:
        rejects = RejectsFile(rejects_path or rejects_path_for(file), file)
        events = EventFile(
            file,
            fmt,  # type: ignore[arg-type]
            source,
            encoding=encoding,
            delimiter=DELIMITER_NAMES[delimiter] if delimiter else None,
            decimal_comma=decimal_comma,
        )
    except ValueError as exc:
        raise click.ClickException(f"{file}: {exc}. Nothing was published.") from exc
    with events:
        click.echo(f"reading {file}: {events.describe()}", err=True)
        if events.encoding == "cp1252" and encoding is None:
            click.echo(
                f"{file} is not UTF-8: read as Windows-1252; if that is wrong, "
                "name its encoding with --encoding",
                err=True,
            )
        settings = _require_broker(resolve_settings())
        from recaudo.observability import telemetry

        telemetry.setup(settings)  # the trace of each event starts at its send
        with rejects, RecaudoProducer(settings) as producer:
            for row in events:
                if isinstance(row, RowError):
                    rejects.add(row)
                    if rejects.count <= REJECTS_SHOWN:
                        click.echo(f"{file}:{row}", err=True)
                else:
                    producer.publish(row.event, backfill=backfill)
            report = producer.flush()
    summary = f"published {report.delivered} event(s); {rejects.count} invalid row(s) skipped"
    if not rejects.count:
        click.echo(summary)
        return
    more = f" (the first {REJECTS_SHOWN} shown above)" if rejects.count > REJECTS_SHOWN else ""
    click.echo(f"{summary}{more}, kept with their line and reason in {rejects.path}")
    sys.exit(1)


# --- workers ------------------------------------------------------------------------


@cli.group()
def streams() -> None:
    """Stream processors."""


@streams.command("run")
@click.option(
    "--name",
    type=click.Choice(["view", "publisher", "kpis", "agent-tasks", "learner"]),
    default="view",
    show_default=True,
    help="view: the debtor view and the orchestrator; publisher: the debtor snapshots "
    "(debtor-view topic and Postgres) from the view's states; kpis: collection KPIs; "
    "agent-tasks: the agent-tasks topic mirrored into Postgres (agent_task); "
    "learner: the learned contact choice's model, learnt from decisions and outcomes "
    "(one replica; docs/learning.md).",
)
@click.option(
    "--health-port",
    type=int,
    default=None,
    help="Serve /healthz, /readyz and /metrics on this port (0: any free port).",
)
def streams_run(name: str, health_port: int | None) -> None:
    """Run one stream processor in the foreground (what `recaudo up` supervises)."""
    settings = _require_broker(resolve_settings())
    _configure_logging(settings)
    from streams.debtor_view import DebtorViewProcessor
    from streams.kpis import KpiProcessor
    from streams.view_publisher import ViewPublisher

    if name == "agent-tasks":
        _run_agent_task_sink(settings, health_port)
        return
    if name == "learner":
        _run_learner(settings, health_port)
        return
    processor: DebtorViewProcessor | KpiProcessor | ViewPublisher
    if name == "kpis":
        processor = KpiProcessor(settings)
    elif name == "publisher":
        import signal

        publisher = processor = ViewPublisher(settings)
        # quixstreams installs its own handlers for the other two.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: publisher.stop())
    else:
        processor = DebtorViewProcessor(settings)
    # A process of its own: a consumer that never closes must not keep it
    # alive, unrestarted, for good.
    if isinstance(processor, ViewPublisher):
        processor.exit_if_close_hangs()
    else:
        processor.processor.exit_if_close_hangs()
    _run_with_health(processor.run, health_port, lambda: processor.running, processor.metrics)


def _run_agent_task_sink(settings: Settings, health_port: int | None) -> None:
    import signal

    from streams.agent_task_sink import AgentTaskSink

    _database(settings)
    sink = AgentTaskSink(settings)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sink.stop())
    sink.exit_if_close_hangs()
    _run_with_health(sink.run, health_port, lambda: sink.running, sink.metrics)


def _run_learner(settings: Settings, health_port: int | None) -> None:
    import signal

    from streams.learner import LearnerService

    _database(settings)
    learner = LearnerService(settings)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: learner.stop())
    learner.exit_if_close_hangs()
    _run_with_health(learner.run, health_port, lambda: learner.running, learner.metrics)


def _run_with_health(
    run: Callable[[], None],
    port: int | None,
    ready: Callable[[], bool],
    metrics: Callable[[], Mapping[str, float]],
) -> None:
    """Run a long-lived service, serving its probes and metrics on ``port`` if given."""
    from recaudo.observability.health import HealthServer, PortInUseError

    if port is None:
        run()
        return
    try:
        health = HealthServer(port, ready, metrics)
    except PortInUseError as exc:
        raise click.ClickException(f"--health-port: {exc.strerror}") from exc
    with health:
        click.echo(f"health on :{health.port}", err=True)
        run()


@cli.group()
def connector() -> None:
    """Channel connectors."""


@connector.command("run")
@click.option("--channel", type=click.Choice(["sms", "email", "whatsapp", "voice"]), required=True)
@click.option(
    "--provider",
    type=click.Choice(["simulator", "smtp", "twilio", "meta", "webhook"]),
    default="simulator",
    show_default=True,
    help=(
        "Which provider adapter sends the messages: smtp (email), twilio (sms, voice), "
        "meta (whatsapp), webhook (any channel). Credentials: `recaudo settings`."
    ),
)
@click.option(
    "--rate-limit",
    type=float,
    default=None,
    help="Sends per second to the provider (default: unlimited).",
)
@click.option(
    "--health-port",
    type=int,
    default=None,
    help="Serve /healthz, /readyz and /metrics on this port (0: any free port).",
)
def connector_run(
    channel: str, provider: str, rate_limit: float | None, health_port: int | None
) -> None:
    """Consume dispatch.<channel>, send through the provider, emit channel responses."""
    import signal

    from connectors.providers.factory import ProviderConfigError, build_adapter, check_combination
    from connectors.service import Connector, ConnectorConfig

    try:
        check_combination(provider, channel)  # type: ignore[arg-type]
    except ProviderConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="'--provider'") from exc
    settings = _require_broker(resolve_settings())
    _configure_logging(settings)
    try:
        adapter = build_adapter(provider, channel, settings)  # type: ignore[arg-type]
    except ProviderConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    from recaudo.orchestration.clock import clock_from_settings

    service = Connector(
        settings,
        ConnectorConfig(channel=channel, rate_limit=rate_limit),  # type: ignore[arg-type]
        adapter,
        clock=clock_from_settings(settings).now,
        clock_speed=settings.clock_speed if settings.clock_origin is not None else 1.0,
    )
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: service.stop())
    _run_with_health(service.run, health_port, lambda: service.ready, service.metrics)


# --- the debtor view ---------------------------------------------------------------------


def _database(settings: Settings) -> str:
    if settings.database_url is None:
        raise click.ClickException(
            "no Postgres: start one with `recaudo up`, or set DATABASE_URL=postgresql://..."
        )
    return settings.database_dsn()


@cli.group()
def debtor() -> None:
    """Read the 360-degree debtor view (from Postgres)."""


@debtor.command("show")
@click.argument("debtor_id")
@click.option("--json", "as_json", is_flag=True, help="The DebtorView record as JSON.")
def debtor_show(debtor_id: str, as_json: bool) -> None:
    """Everything recaudo knows about one debtor."""
    import psycopg

    from recaudo.cli.format import render_view
    from recaudo.db.view_store import read_view

    with psycopg.connect(_database(resolve_settings())) as conn:
        view = read_view(conn, debtor_id)
    if view is None:
        raise click.ClickException(f"no debtor {debtor_id!r} in the view (yet?)")
    click.echo(view.model_dump_json(indent=2) if as_json else render_view(view))


BUCKET_ALIASES: dict[str, Bucket] = {
    "current": "CURRENT",
    "1-30": "DPD_1_30",
    "31-60": "DPD_31_60",
    "61-90": "DPD_61_90",
    "90+": "DPD_90_PLUS",
}


def bucket_named(name: str) -> Bucket:
    """A bucket by its name as listed (DPD_90_PLUS) or its short name (90+),
    in any case."""
    for alias, bucket in BUCKET_ALIASES.items():
        if name.strip().lower() in (alias, bucket.lower()):
            return bucket
    raise click.BadParameter(
        f"{name!r} is no bucket; one of: "
        + ", ".join(f"{b} ({a})" for a, b in BUCKET_ALIASES.items()),
        param_hint="'--bucket'",
    )


@debtor.command("list")
@click.option(
    "--bucket",
    metavar="BUCKET",
    default=None,
    help="Only debtors in this days-past-due bucket: CURRENT, DPD_1_30, DPD_31_60, "
    "DPD_61_90, DPD_90_PLUS (as listed), or current, 1-30, 31-60, 61-90, 90+; any case.",
)
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One DebtorView JSON object per line.")
def debtor_list(bucket: str | None, limit: int, as_json: bool) -> None:
    """Debtors, most days past due first."""
    import psycopg

    from recaudo.cli.format import DEBTOR_HEADER, debtor_row, render_table
    from recaudo.db.view_store import list_views

    wanted = bucket_named(bucket) if bucket else None
    with psycopg.connect(_database(resolve_settings())) as conn:
        views = list_views(conn, wanted, limit)
    if as_json:
        for v in views:
            click.echo(v.model_dump_json())
        return
    click.echo(render_table(DEBTOR_HEADER, [debtor_row(v) for v in views]))
    click.echo(f"{len(views)} debtor(s)", err=True)


@cli.command()
def rebuild() -> None:
    """Rebuild the debtor view in Postgres from the topics (replay)."""
    from streams.rebuild import rebuild as run_rebuild

    settings = _require_broker(resolve_settings())
    _database(settings)
    _configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    run_rebuild(settings, progress=click.echo)


# --- dashboard --------------------------------------------------------------------------


@cli.command()
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Default: 8050.")
@click.option("--host", default=None, help="Listen address. Default: 127.0.0.1.")
def dashboard(port: int | None, host: str | None) -> None:
    """Serve the collections dashboard: funnel, channels, suppressions, lag (live).

    Reads the KPI and debtor-view tables from Postgres and consumer lag from
    Kafka; also answers /healthz, /readyz and /metrics.
    """
    import signal
    import threading

    from recaudo.dashboard.server import Dashboard

    settings = resolve_settings()
    _database(settings)
    _configure_logging(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    board = Dashboard(
        settings,
        port=settings.dashboard_port if port is None else port,
        host=host or settings.dashboard_host,
        refresh_s=settings.dashboard_refresh_s,
    )
    with board:
        click.echo(f"dashboard on {board.url} (Ctrl-C to stop)", err=True)
        stop.wait()


# --- agent desk ------------------------------------------------------------------------


@cli.group()
def desk() -> None:
    """The agent desk: the open agent tasks and what a person does about them."""


@desk.command("run")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Default: 8070.")
@click.option("--host", default=None, help="Listen address. Default: 127.0.0.1.")
def desk_run(port: int | None, host: str | None) -> None:
    """Serve the agent desk: open tasks by priority and age; a task's conversation,
    360-degree view and suggested action; reply, record an outcome, close.

    \b
    Agents: RECAUDO_DESK_AGENTS='{"ana": "<hash>"}' (hashes from
    `recaudo desk hash-password`), or RECAUDO_DESK_TRUSTED_HEADER behind a
    reverse proxy that signs agents in. Replies reach debtors while
    RECAUDO_CONVERSATIONS is on, the default (the view worker sends them). See docs/desk.md.
    """
    import signal

    from recaudo.desk.server import DeskService

    settings = _require_broker(resolve_settings())
    _database(settings)
    _configure_logging(settings)
    try:
        service = DeskService(settings, port, host)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: service.stop())
    click.echo(f"desk on {service.url} (Ctrl-C to stop)", err=True)
    service.run()


@desk.command("hash-password")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Read from the terminal when not given (never from the command line in production).",
)
def desk_hash_password(password: str) -> None:
    """Print the scrypt hash of an agent's password, for RECAUDO_DESK_AGENTS."""
    from recaudo.desk.passwords import hash_password

    try:
        click.echo(hash_password(password))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


# --- inspection -----------------------------------------------------------------------


@cli.command("settings")
def settings_cmd() -> None:
    """Print the effective settings, secrets masked."""
    data: dict[str, Any] = resolve_settings().redacted()
    click.echo(json.dumps(data, indent=2, default=str))


# --- inbound webhooks --------------------------------------------------------------------


@cli.group()
def webhooks() -> None:
    """Inbound provider webhooks (delivery receipts, replies, opt-outs)."""


@webhooks.command("run")
@click.option(
    "--port",
    type=int,
    default=8080,
    show_default=True,
    help="Serve the provider callbacks and /healthz, /readyz, /metrics on this port.",
)
@click.option(
    "--host",
    default=None,
    help=(
        "Address to listen on [default: RECAUDO_WEBHOOKS_HOST, 127.0.0.1]; 0.0.0.0 for every "
        "interface (in a container, behind the TLS proxy)."
    ),
)
def webhooks_run(port: int, host: str | None) -> None:
    """Receive Twilio, Meta WhatsApp and Mailgun callbacks, verify their signatures, and
    emit them as channel responses of the dispatch they belong to.

    \b
    Provider URLs (behind your TLS proxy):
      POST /twilio/status     Twilio message and call status callbacks
      POST /twilio/inbound    Twilio inbound SMS ("A message comes in")
      GET|POST /meta/whatsapp WhatsApp Cloud API webhook
      POST /mailgun/inbound   Mailgun inbound route: email replies
    """
    import signal

    from connectors.webhooks.server import WebhookService

    settings = _require_broker(resolve_settings())
    _database(settings)
    _configure_logging(settings)
    service = WebhookService(settings, port, host)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: service.stop())
    click.echo(f"webhooks on {service.host}:{service.port}", err=True)
    service.run()


# --- self-service portal ----------------------------------------------------------------


@cli.group()
def portal() -> None:
    """The debtors' self-service portal: the page a message's personal link opens."""


@portal.command("run")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve the portal and /healthz, /readyz, /metrics here [default: RECAUDO_PORTAL_PORT, "
    "8060].",
)
@click.option(
    "--host",
    default=None,
    help="Address to listen on [default: RECAUDO_PORTAL_HOST, 127.0.0.1]; 0.0.0.0 for every "
    "interface (in a container, behind the TLS proxy).",
)
def portal_run(port: int | None, host: str | None) -> None:
    """Serve the page a message's link opens: the debtor's balance and overdue amount per
    account, the offers the strategy's [[negotiation]] bounds allow, and the bank's payment
    page (RECAUDO_PORTAL_PAYMENT_URL). A choice becomes a PROMISE_TO_PAY or
    PAYMENT_PLAN_AGREED debt event; opening a link, a CLICKED response.

    \b
    Messages carry the link when RECAUDO_PORTAL_BASE_URL is set (where this service is
    reached, behind your TLS proxy) and their template uses {{ portal_link }}. The stream
    workers that render messages and this service must share RECAUDO_PORTAL_KEY (or the
    state directory holding secrets/portal.key). See docs/portal.md.

    \b
    URLs:
      GET  /p/<token>   the debtor's page
      POST /choose      an offer chosen on it
    """
    import signal

    from recaudo.portal.server import PortalService

    settings = _require_broker(resolve_settings())
    _database(settings)
    _configure_logging(settings)
    service = PortalService(settings, port, host)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: service.stop())
    click.echo(f"portal on {service.host}:{service.port}", err=True)
    service.run()


# --- inbound email -----------------------------------------------------------------------


@cli.group("inbound-email")
def inbound_email() -> None:
    """Debtors' email replies, received over SMTP."""


@inbound_email.command("run")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="SMTP port [default: RECAUDO_INBOUND_EMAIL_PORT, 2525]; 0: any free port.",
)
@click.option(
    "--host",
    default=None,
    help="Address to listen on [default: RECAUDO_INBOUND_EMAIL_HOST, 127.0.0.1].",
)
@click.option(
    "--health-port",
    type=int,
    default=None,
    help="Serve /healthz, /readyz and /metrics on this port (0: any free port).",
)
def inbound_email_run(port: int | None, host: str | None, health_port: int | None) -> None:
    """Receive replies to collection emails over SMTP and emit each as a
    REPLIED channel response of the dispatch it answers (threaded by
    In-Reply-To, References or the Reply-To plus-address). Point your mail
    relay (or RECAUDO_EMAIL_REPLY_TO's MX) here. An email that answers no
    dispatch goes to the dead-letter topic with its bytes."""
    import signal

    from connectors.inbound_email.receiver import InboundEmailService

    settings = _require_broker(resolve_settings())
    _database(settings)
    _configure_logging(settings)
    service = InboundEmailService(settings, port, host)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: service.stop())
    click.echo(f"inbound email (SMTP) on {service.host}:{service.port}", err=True)
    _run_with_health(service.run, health_port, service.ready, service.metrics)


@cli.group()
def conversation() -> None:
    """Read debtors' conversations (from the topics)."""


@conversation.command("show")
@click.argument("debtor_id")
def conversation_show(debtor_id: str) -> None:
    """The debtor's messages, oldest first: what each was understood to say
    (intent and confidence, by the same model the pipeline runs), what it
    caused (promises, plans, disputes, opt-outs, agent tasks) and the answer
    sent. Reads the channel-responses, dispatch, debt-events, profile and
    agent-tasks topics from their beginning."""
    from datetime import UTC, datetime

    from recaudo.cli.inspect import _broker, _records
    from recaudo.contracts.records import DebtorProfile
    from recaudo.conversation.thread import model_reader, render, thread, thread_topics
    from recaudo.orchestration.templates import language_of

    settings, topics = _broker()
    records = list(_records(settings, thread_topics(topics)))
    profiles = [r for r in records if isinstance(r, DebtorProfile) and r.debtor_id == debtor_id]
    language = language_of(
        max(profiles, key=lambda p: p.occurred_at).preferred_language if profiles else None
    )
    read = model_reader(datetime.now(UTC))
    click.echo(render(thread(debtor_id, records, language, read)))


@cli.command()
@click.argument("debtor_id")
@click.option(
    "--channel",
    type=click.Choice(["sms", "whatsapp", "email"]),
    default="sms",
    show_default=True,
    help="The channel the messages come from (and the answers go on).",
)
@click.option(
    "--wait",
    "wait_s",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds to wait for an answer to each message.",
)
def converse(debtor_id: str, channel: Channel, wait_s: float) -> None:
    """Chat as DEBTOR_ID against the running pipeline: each line typed (or
    read from standard input) is produced as a REPLIED channel response, and
    the answer the conversation dispatches is printed when it comes (or
    "(no answer)", e.g. after a handoff to a person or outside the hours).
    The debtor needs a profile and an account in the view."""
    import time
    import uuid
    from datetime import UTC, datetime

    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from recaudo.cli.inspect import _broker
    from recaudo.contracts.records import ChannelResponse, DispatchCommand
    from recaudo.kafka.producer import RecaudoProducer
    from recaudo.kafka.serde import Serde
    from recaudo.orchestration.ids import dispatch_id

    settings, topics = _broker()
    serde = Serde(settings)
    dispatch_topic = topics.dispatch(channel)
    consumer = Consumer(
        settings.consumer_config(f"{settings.topic_prefix}.converse-{uuid.uuid4().hex[:8]}")
    )
    try:
        meta = consumer.list_topics(dispatch_topic, timeout=10).topics[dispatch_topic]
        # Each answer is found by its id, derived from the message it answers.
        consumer.assign(
            [TopicPartition(dispatch_topic, p, OFFSET_BEGINNING) for p in meta.partitions]
        )
        with RecaudoProducer(settings) as producer:
            for line in sys.stdin:
                text = line.strip()
                if not text:
                    continue
                message = ChannelResponse(
                    occurred_at=datetime.now(UTC),
                    source="recaudo.converse",
                    debtor_id=debtor_id,
                    channel=channel,
                    status="REPLIED",
                    provider="console",
                    text=text,
                )
                expected = dispatch_id(debtor_id, f"answer:{message.event_id}", 0, channel)
                producer.publish(message)
                producer.flush()
                deadline = time.monotonic() + wait_s
                answered = False
                while not answered and time.monotonic() < deadline:
                    msg = consumer.poll(0.2)
                    if msg is None or msg.error() is not None or msg.value() is None:
                        continue
                    command = serde.deserialize(dispatch_topic, msg.value())
                    if isinstance(command, DispatchCommand) and command.dispatch_id == expected:
                        click.echo(f"recaudo: {command.body}")
                        answered = True
                if not answered:
                    click.echo("recaudo: (no answer)")
    finally:
        consumer.close()


cli.add_command(deploy)
cli.add_command(learn)
cli.add_command(understand_command)
for _command in (decisions, dispatches, dlq, kpis):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="recaudo")


if __name__ == "__main__":
    main()
