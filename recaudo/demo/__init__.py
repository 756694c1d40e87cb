"""`recaudo demo`: a simulated month of collections through the real pipeline.

It starts the embedded runtime exactly as `recaudo up` does (broker, Postgres,
topics, the debtor-view and KPI stream workers, the simulated connectors and
the dashboard) with every process on one scaled clock, plays the bank
(:mod:`recaudo.demo.bank`, :mod:`recaudo.demo.driver`), and ends with a KPI
summary and an HTML report (:mod:`recaudo.demo.report`) read from what the
pipeline wrote to Postgres.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from recaudo.demo.driver import DemoPlan, DemoStats
from recaudo.embedded.ports import free_port, is_free
from recaudo.settings import Settings

__all__ = ["DemoPlan", "DemoStats", "run_demo"]

#: The file whose appearance starts every process's clock (in the state
#: directory): written once the workers have taken in the book, so a slow
#: start-up costs no simulated time and a quick one waits for nothing.
CLOCK_START_FILE = "clock-start"
#: How often the timer service looks for due timers, in real seconds; at the
#: demo's speeds 0.1 s is a few simulated minutes.
TIMER_INTERVAL_S = 0.1
#: Environment the demo does not honour: it always runs its own services.
EXTERNAL = ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "SCHEMA_REGISTRY_URL")


def _dashboard_port(preferred: int) -> int:
    """The configured dashboard port when it is free (a running `recaudo up`
    may hold it), else any free one."""
    return preferred if is_free(preferred) else free_port()


def _bar(stats: DemoStats, plan: DemoPlan, width: int = 30) -> str:
    now = stats.simulated_now
    done = 0.0
    if now is not None:
        done = min(1.0, max(0.0, (now - plan.start).total_seconds() / (plan.days * 86_400)))
    filled = int(done * width)
    day = f"day {min(plan.days, int(done * plan.days) + 1):>2}/{plan.days}"
    lag = "" if stats.lag is None else f" · lag {stats.lag:,}"
    if stats.lagging:
        lag += " (" + ", ".join(f"{g} {n:,}" for g, n in sorted(stats.lagging.items())) + ")"
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {day} · {stats.published:,} events · "
        f"{stats.dispatches_reported:,} dispatches reported · {stats.conversations:,} answered · "
        f"{stats.phase}{lag}"
    )


class ProgressPrinter:
    """A bar redrawn in place on a terminal; elsewhere one line per simulated day."""

    def __init__(self, plan: DemoPlan, tty: bool | None = None) -> None:
        self.plan = plan
        self.tty = sys.stdout.isatty() if tty is None else tty
        self._drawn_at = 0.0
        self._last_key: tuple[str, str] | None = None

    def __call__(self, stats: DemoStats) -> None:
        line = _bar(stats, self.plan)
        if self.tty:
            if time.monotonic() - self._drawn_at >= 0.25:
                width = shutil.get_terminal_size().columns - 1
                sys.stdout.write("\r\x1b[K" + line[:width])
                sys.stdout.flush()
                self._drawn_at = time.monotonic()
            return
        key = (line.split(" · ")[0], stats.phase)
        if key != self._last_key:
            self._last_key = key
            print(line, flush=True)

    def close(self) -> None:
        if self.tty and self._drawn_at:
            sys.stdout.write("\n")
            sys.stdout.flush()


def conversation_examples(settings: Settings) -> str:
    """The report's example threads (a promise, a plan, an opt-out, a
    handoff), or why there are none."""
    from recaudo.demo.threads import ENDINGS, example_threads

    try:
        lines = example_threads(settings)
    except (TimeoutError, RuntimeError) as exc:
        return f"\n(example conversations could not be read: {exc})"
    shown = sum(line.startswith("A conversation") for line in lines)
    head = f"\nExample conversations ({shown} of the {len(ENDINGS)} endings happened):"
    return "\n".join([head, *lines])


def run_demo(
    plan: DemoPlan,
    state_dir: Path,
    report: Path | None = None,
    echo: Callable[[str], None] = print,
    stop_event: threading.Event | None = None,
    keep_running: bool = False,
) -> int:
    """Run the demo in ``state_dir`` (wiped first); returns the exit code.

    The report goes to ``report`` (default ``<state_dir>/report.html``). With
    ``keep_running`` everything stays up after the report (the dashboard live)
    until a stop is asked for (Ctrl-C, SIGTERM, ``stop_event``).
    """
    from recaudo.embedded import runtime
    from recaudo.embedded.runtime import dashboard_url
    from recaudo.embedded.state import live_record
    from recaudo.embedded.workers import worker_specs

    if live_record(state_dir) is not None:
        echo(
            f"a demo is already running in {state_dir}; `RECAUDO_STATE_DIR={state_dir} "
            "recaudo down` stops it."
        )
        return 1
    shutil.rmtree(state_dir, ignore_errors=True)
    for name in EXTERNAL:
        os.environ.pop(name, None)
    base = Settings()
    if plan.conversations:
        # Built (or loaded) into the model cache before the clock is set, so
        # the workers load it instead of training it while the month runs.
        from recaudo.understanding.understand import warm_up

        echo("preparing the understanding model…")
        warm_up()
    # Read by the worker processes, which take their settings from the environment.
    os.environ["RECAUDO_TIMER_INTERVAL_S"] = repr(TIMER_INTERVAL_S)
    os.environ["RECAUDO_DASHBOARD_PORT"] = str(_dashboard_port(base.dashboard_port))
    os.environ["RECAUDO_ORCHESTRATE"] = "true"
    os.environ["RECAUDO_CONVERSATIONS"] = "true" if plan.conversations else "false"
    os.environ["RECAUDO_CLOCK_START_FILE"] = str(state_dir / CLOCK_START_FILE)
    settings = Settings().model_copy(
        update={
            "state_dir": state_dir,
            "clock_origin": plan.start,
            "clock_speed": plan.speed,
            "clock_until": plan.end,
        }
    )
    report = report or state_dir / "report.html"
    started = time.monotonic()
    printer = ProgressPrinter(plan)

    def start_clock() -> None:
        """Every process's clock starts now (written whole, then renamed in)."""
        path = state_dir / CLOCK_START_FILE
        pending = path.with_suffix(".tmp")
        pending.write_text(repr(time.time()), encoding="utf-8")
        pending.replace(path)

    def job(live: Settings, stop: threading.Event) -> int:
        from recaudo.dashboard.data import read_snapshot
        from recaudo.dashboard.lag import LagProbe
        from recaudo.demo.driver import run_month
        from recaudo.demo.report import summary, write_report
        from recaudo.orchestration.clock import clock_from_settings

        echo(
            f"simulating {plan.days} days for {plan.debtors:,} debtors from "
            f"{plan.start:%Y-%m-%d} at {plan.speed:,.0f}x real time ({plan.seconds:.0f} s)"
        )
        try:
            stats = run_month(
                live, plan, clock_from_settings(live), stop, printer, start_clock=start_clock
            )
        finally:
            printer.close()
        interrupted = stop.is_set() and stats.phase != "done"
        if interrupted:
            echo("demo interrupted; what the pipeline had measured so far:")
        snap = read_snapshot(live.database_dsn())
        probe = LagProbe(live)
        try:
            lag = probe.sample()
        finally:
            probe.close()
        echo(summary(snap, plan, stats, time.monotonic() - started))
        if plan.conversations:
            echo(conversation_examples(live))
        echo(f"report: {write_report(report, snap, lag, plan, stats)}")
        code = 0
        if interrupted:
            code = 130
        elif stats.phase != "done":
            echo(f"warning: {stats.phase}; the figures may be partial.")
            code = 1
        if keep_running and not stop.is_set():
            echo(f"still running: dashboard {dashboard_url(live)}; Ctrl-C stops everything.")
            stop.wait()
        return code

    # Its state directory is wiped at the next demo: no inputs to keep for it.
    return runtime.run_up(
        settings, worker_specs(1), progress=echo, stop_event=stop_event, job=job, journal=False
    )
