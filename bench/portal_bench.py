"""Portal page latency under many concurrent debtors, one portal worker, on
the embedded stack (Tansu broker, pgserver Postgres).

Each debtor has a view in Postgres (built by the view reducer and written as
the view worker writes it). ``recaudo portal run`` runs as one process; the
load is ``--debtors`` concurrent clients, each doing ``--rounds`` times: open a
fresh link (a new dispatch: the page, a CLICKED produced and acknowledged),
then choose the first plan on it (the choice recorded in Postgres and its
event acknowledged by the broker). The first round warms up and is not
measured. Prints latency percentiles of pages and choices, throughput and
errors. ``--think-ms`` paces each debtor like a person reading the page, the
debtors' starts spread over one pause (``--in-step``: all at once).

    .venv/bin/python -m bench.portal_bench --debtors 200 --rounds 6
    .venv/bin/python -m bench.portal_bench --debtors 200 --rounds 6 --think-ms 2000
    .venv/bin/python -m bench.portal_bench --debtors 200 --rounds 6 --think-ms 2000 --in-step
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from pydantic import SecretStr

from bench.harness import bench_environment
from recaudo.contracts.records import DebtorView
from recaudo.db.migrate import migrate
from recaudo.db.view_store import write_views
from recaudo.embedded.ports import free_port
from recaudo.embedded.postgres import EmbeddedPostgres
from recaudo.portal.link import PortalLinks
from recaudo.portal.sample import debtor_in_arrears
from recaudo.portal.token import Keys
from recaudo.settings import Settings, env_for_children
from recaudo.view import apply, snapshot

KEY = "portal-bench-key"
#: The portal's own log, kept after the run.
LOG = Path("test-artifacts") / "portal_bench.log"
TOKEN_FIELD = re.compile(r'name="t" value="([^"]+)"')


def debtor_view(debtor_id: str, now: datetime) -> DebtorView:
    events = debtor_in_arrears(
        debtor_id,
        f"{debtor_id}-ACC",
        now=now,
        balance_minor=8_000_000,
        days_past_due=45,
        principal_minor=9_000_000,
        instalment_minor=2_000_000,
        source="bench",
    )
    state = None
    for event in events:
        state = apply(state, event).state
    assert state is not None
    return snapshot(state, debtor_id)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    if not ms:
        return f"{name:<8} n=0"
    return (
        f"{name:<8} n={len(ms):>5}  p50={percentile(ms, 0.50):7.1f} ms  "
        f"p95={percentile(ms, 0.95):7.1f} ms  p99={percentile(ms, 0.99):7.1f} ms  "
        f"max={max(ms):7.1f} ms  mean={statistics.fmean(ms):7.1f} ms"
    )


class Connection:
    """One debtor's keep-alive HTTP/1.1 connection: a client as thin as the
    standard library allows, so the figures are the portal's, not the client's."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if method == "POST":
            head += "Content-Type: application/x-www-form-urlencoded\r\n"
            head += f"Content-Length: {len(body)}\r\n"
        writer.write(head.encode() + b"\r\n" + body)
        await writer.drain()
        status_line = await reader.readline()
        length, close = 0, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        payload = await reader.readexactly(length)
        if close:
            writer.close()
            self._streams = None
        return int(status_line.split()[1]), payload

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()


async def one_debtor(
    base: tuple[str, int],
    links: PortalLinks,
    debtor_id: str,
    rounds: int,
    now_ms: int,
    pages: list[float],
    choices: list[float],
    errors: list[str],
    think_s: float,
    start_s: float,
) -> None:
    connection = Connection(*base)
    await asyncio.sleep(start_s)
    try:
        for round_ in range(rounds):
            measured = round_ > 0
            path = links(debtor_id, f"bench-{round_}", "sms", None, now_ms).split("/", 3)[3]
            started = time.perf_counter()
            status, page = await connection.request("GET", f"/{path}")
            took = time.perf_counter() - started
            if status != 200:
                errors.append(f"page {status}")
                continue
            if measured:
                pages.append(took)
            await asyncio.sleep(think_s)  # reading the page
            tokens = TOKEN_FIELD.findall(page.decode())
            if len(tokens) < 2:
                errors.append("no plan on the page")
                continue
            form = urllib.parse.urlencode({"t": tokens[1]}).encode()
            started = time.perf_counter()
            status, _ = await connection.request("POST", "/choose", form)
            took = time.perf_counter() - started
            if status != 200:
                errors.append(f"choice {status}")
            elif measured:
                choices.append(took)
            await asyncio.sleep(think_s)  # before the next message's link
    except (OSError, asyncio.IncompleteReadError) as exc:
        errors.append(type(exc).__name__)
    finally:
        connection.close()


async def load(
    base: tuple[str, int],
    links: PortalLinks,
    debtors: int,
    rounds: int,
    think_s: float,
    in_step: bool,
) -> None:
    pages: list[float] = []
    choices: list[float] = []
    errors: list[str] = []
    now_ms = int(time.time() * 1000)
    started = time.perf_counter()
    await asyncio.gather(
        *(
            one_debtor(
                base,
                links,
                f"D-{i:05d}",
                rounds,
                now_ms,
                pages,
                choices,
                errors,
                think_s,
                # People do not all click in the same millisecond: spread over one pause.
                0.0 if in_step else think_s * i / debtors,
            )
            for i in range(debtors)
        )
    )
    elapsed = time.perf_counter() - started
    requests = debtors * rounds * 2
    print(
        f"{debtors} concurrent debtors x {rounds} rounds (first is warm-up), "
        f"{think_s * 1000:.0f} ms between a debtor's requests"
        f"{' (all in step)' if in_step and think_s else ''}, one portal worker"
    )
    print(summary("page", pages))
    print(summary("choice", choices))
    print(
        f"throughput {requests / elapsed:.0f} requests/s over {elapsed:.1f} s; errors {len(errors)}"
    )
    if errors:
        print("  first errors:", sorted(set(errors))[:5])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--debtors", type=int, default=200, help="concurrent debtors")
    parser.add_argument("--rounds", type=int, default=6, help="links opened and chosen, each")
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0,
        help="a debtor's pause after each answer (0: back to back, the portal saturated)",
    )
    parser.add_argument(
        "--in-step",
        action="store_true",
        help="with --think-ms: every debtor starts at once (bursts of --debtors requests), "
        "instead of spread over one pause",
    )
    args = parser.parse_args()

    with bench_environment("portal", partitions=3) as environment:
        work = environment.settings.state_dir
        postgres = EmbeddedPostgres(work / "pg").start()
        try:
            settings: Settings = environment.settings.model_copy(
                update={
                    "database_url": SecretStr(postgres.url),
                    "portal_key": SecretStr(KEY),
                }
            )
            migrate(settings.database_dsn())
            now = datetime.now(UTC)
            views = [debtor_view(f"D-{i:05d}", now) for i in range(args.debtors)]
            with psycopg.connect(settings.database_dsn()) as conn:
                write_views(conn, views)
            port = free_port()
            LOG.parent.mkdir(exist_ok=True)
            env = env_for_children(settings, RECAUDO_LOG_LEVEL="WARNING", RECAUDO_PORTAL_KEY=KEY)
            portal = subprocess.Popen(
                [sys.executable, "-m", "recaudo", "portal", "run", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(LOG, "wb"),  # noqa: SIM115 - the child's
            )
            base = f"http://127.0.0.1:{port}"
            try:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if (
                            httpx.get(f"{base}/readyz", timeout=2, trust_env=False).status_code
                            == 200
                        ):
                            break
                    except httpx.HTTPError:
                        if time.monotonic() > deadline or portal.poll() is not None:
                            raise SystemExit(f"the portal did not start: see {LOG}") from None
                        time.sleep(0.2)
                links = PortalLinks(base, Keys.derive(KEY.encode()), 86_400_000)
                print(
                    f"machine: {os.cpu_count()} cores; broker, Postgres, portal and load share it"
                )
                asyncio.run(
                    load(
                        ("127.0.0.1", port),
                        links,
                        args.debtors,
                        args.rounds,
                        args.think_ms / 1000,
                        args.in_step,
                    )
                )
            finally:
                portal.terminate()
                portal.wait(30)
        finally:
            postgres.stop()


if __name__ == "__main__":
    main()
