"""The portal on the real broker and Postgres, in a real browser: a debtor
opens the link in a message, sees only their own accounts, picks a plan, and
the plan reaches the debt-events topic and the view; a replayed choice, a
tampered, expired or wrong-purpose token gets a page that says so and
publishes nothing. One stack for the module: a view worker, the portal."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr

from recaudo.contracts.money import format_money
from recaudo.contracts.records import ChannelResponse, DebtEvent, Event, PaymentPlanAgreed
from recaudo.db.migrate import migrate
from recaudo.db.view_store import read_view
from recaudo.embedded.broker import EmbeddedBroker
from recaudo.embedded.postgres import EmbeddedPostgres
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.kafka.topics_admin import ensure_topics
from recaudo.portal.link import PortalLinks
from recaudo.portal.offers import choice_event_id
from recaudo.portal.sample import debtor_in_arrears
from recaudo.portal.server import PortalService
from recaudo.portal.token import Keys, PortalToken, mint, verify
from recaudo.settings import Settings, env_for_children
from tests.integration.dashboard import chromium
from tests.integration.fixtures import create_database
from tests.integration.kafka_io import read_to_end
from tests.integration.portal.browser import Browser
from tests.integration.streams.worker_process import streams_worker
from tests.integration.waiting import wait_until

pytestmark = pytest.mark.integration

KEY = "portal-test-key"
KEYS = Keys.derive(KEY.encode())
NOW = datetime.now(UTC).replace(microsecond=0)


def debtor(debtor_id: str, account_id: str, balance: int, overdue_days: int) -> list[Event]:
    return debtor_in_arrears(
        debtor_id, account_id, now=NOW, balance_minor=balance, days_past_due=overdue_days
    )


class Records(logging.Handler):
    """Every log record of the process while the stack runs."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class Stack:
    settings: Settings
    portal: PortalService
    links: PortalLinks
    logs: Records

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.portal.port}"

    def link(self, debtor_id: str, dispatch_id: str) -> str:
        return self.links(debtor_id, dispatch_id, "sms", None, int(NOW.timestamp() * 1000))

    def portal_events(self) -> list[DebtEvent]:
        topic = Serde(self.settings).topics.debt_events
        serde = Serde(self.settings)
        found = [serde.deserialize(topic, m.value()) for m in read_to_end(self.settings, topic)]
        mine = [e for e in found if isinstance(e, DebtEvent) and e.source == "recaudo.portal"]
        return sorted(mine, key=lambda e: str(e.event_id))  # partitions interleave at random


@pytest.fixture(scope="module")
def stack(broker: EmbeddedBroker, postgres: EmbeddedPostgres) -> Iterator[Stack]:
    state = Path(tempfile.mkdtemp(prefix="rc-portal-"))
    settings = Settings(
        kafka_bootstrap_servers=broker.bootstrap_servers,
        embedded_broker=True,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}",
        topic_partitions=3,
        state_dir=state,
        database_url=SecretStr(create_database(postgres)),
        portal_key=SecretStr(KEY),
        portal_payment_url="https://bank.example/pay?ref={account_id}",
    )
    ensure_topics(settings)
    migrate(settings.database_dsn())
    env = env_for_children(
        settings,
        RECAUDO_LOG_LEVEL="WARNING",
        RECAUDO_VIEW_SNAPSHOTS="inline",
        RECAUDO_ORCHESTRATE="false",
        RECAUDO_TIMERS="false",
    )
    with RecaudoProducer(settings) as producer:
        for event in [
            *debtor("D-PORTAL-1", "ACC-1111", 8_000_000, 45),
            *debtor("D-PORTAL-2", "ACC-2222", 3_000_000, 40),
        ]:
            producer.publish(event, backfill=True)
    with streams_worker(env):
        dsn = settings.database_dsn()

        def both_in_view() -> bool:
            with psycopg.connect(dsn) as conn:
                return all(read_view(conn, d) is not None for d in ("D-PORTAL-1", "D-PORTAL-2"))

        assert wait_until(both_in_view, 120), "the view worker never wrote the debtors"
        logs = Records()
        logs.setFormatter(logging.Formatter("%(name)s %(message)s %(exc_text)s"))
        root = logging.getLogger()
        level = root.level
        service = PortalService(settings, port=0, host="127.0.0.1")
        # uvicorn's own loggers do not propagate to the root (and are reset
        # when the service is made): watched from now on.
        watched = [root, logging.getLogger("uvicorn.access"), logging.getLogger("uvicorn.error")]
        for logger in watched:
            logger.addHandler(logs)
        root.setLevel(logging.DEBUG)
        server = threading.Thread(target=service.run, daemon=True)
        server.start()
        links = PortalLinks(f"http://127.0.0.1:{service.port}", KEYS, 86_400_000)
        try:
            yield Stack(settings, service, links, logs)
        finally:
            service.stop()
            server.join(20)
            for logger in watched:
                logger.removeHandler(logs)
            root.setLevel(level)
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    running = Browser(chromium.locate())
    try:
        yield running
    finally:
        running.close()


def fetch(url: str, form: dict[str, str] | None = None) -> tuple[int, str]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, headers={"Accept-Language": "es-CO"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_debtor_opens_the_link_picks_a_plan_and_it_reaches_the_view(
    stack: Stack, browser: Browser
) -> None:
    with psycopg.connect(stack.settings.database_dsn()) as conn:
        shown = read_view(conn, "D-PORTAL-1")
        other = read_view(conn, "D-PORTAL-2")
    assert shown is not None and other is not None
    (account,) = shown.accounts
    url = stack.link("D-PORTAL-1", "dispatch-browser")
    browser.open(url)
    assert browser.evaluate("document.documentElement.lang") == "es"
    text = browser.evaluate("document.body.innerText")
    assert "****1111" in text and format_money(account.overdue_minor, "COP") in text
    # Nothing of the other debtor.
    assert "****2222" not in text
    assert format_money(other.accounts[0].balance_minor, "COP") not in text
    pay = browser.evaluate("document.querySelector('a.button').getAttribute('href')")
    assert pay == "https://bank.example/pay?ref=ACC-1111"
    plans = browser.evaluate("document.querySelectorAll('form[data-kind=plan]').length")
    assert plans >= 2
    browser.evaluate(
        "[...document.querySelectorAll('form[data-kind=plan]')]"
        ".find(f => f.innerText.startsWith('3 cuotas')).querySelector('button').click()"
    )
    browser.wait_for("document.querySelector('[data-outcome]') !== null")
    assert browser.evaluate("document.querySelector('[data-outcome]').dataset.outcome") == "done"

    token = verify(url.rsplit("/", 1)[1], KEYS, "open", int(NOW.timestamp() * 1000))
    (event,) = [e for e in stack.portal_events() if e.event_id == choice_event_id(token)]
    plan = event.payload
    assert isinstance(plan, PaymentPlanAgreed) and event.debtor_id == "D-PORTAL-1"
    assert plan.instalment_count == 3 and plan.total_minor == account.overdue_minor
    serde = Serde(stack.settings)
    topic = serde.topics.channel_responses
    clicks = [
        r
        for m in read_to_end(stack.settings, topic)
        if isinstance(r := serde.deserialize(topic, m.value()), ChannelResponse)
        and r.status == "CLICKED"
    ]
    assert [(c.debtor_id, c.dispatch_id) for c in clicks] == [("D-PORTAL-1", "dispatch-browser")]

    plan_id = plan.plan_id

    def plan_in_view() -> bool:
        with psycopg.connect(stack.settings.database_dsn()) as conn:
            view = read_view(conn, "D-PORTAL-1")
        return view is not None and any(p.promise_id == plan_id for p in view.promises)

    assert wait_until(plan_in_view, 60), "the plan never reached the view"


def test_a_replayed_or_second_choice_changes_nothing(stack: Stack) -> None:
    status, page = fetch(stack.link("D-PORTAL-2", "dispatch-replay"))
    assert status == 200 and "****2222" in page and "****1111" not in page
    forms = [part.split('"', 1)[0] for part in page.split('name="t" value="')[1:]]
    assert len(forms) >= 2
    first = fetch(f"{stack.base}/choose", {"t": forms[1]})
    assert first[0] == 200 and 'data-outcome="done"' in first[1]
    published = stack.portal_events()
    for again in (forms[1], forms[0], forms[-1]):
        status, page = fetch(f"{stack.base}/choose", {"t": again, "date": NOW.date().isoformat()})
        assert status == 409 and 'data-outcome="used"' in page
    reopened = fetch(stack.link("D-PORTAL-2", "dispatch-replay"))
    assert reopened[0] == 409 and 'data-outcome="used"' in reopened[1]
    assert stack.portal_events() == published


def test_tampered_expired_and_wrong_purpose_tokens_get_a_page_and_change_nothing(
    stack: Stack,
) -> None:
    before = stack.portal_events()
    link = stack.link("D-PORTAL-1", "dispatch-refused").rsplit("/", 1)[1]
    flipped = link[:10] + ("A" if link[10] != "A" else "B") + link[11:]
    status, page = fetch(f"{stack.base}/p/{flipped}")
    assert status == 400 and 'data-outcome="invalid"' in page and 'lang="es"' in page

    past = PortalToken("D-PORTAL-1", "dispatch-old", "sms", "open", int(NOW.timestamp() * 1000) - 1)
    status, page = fetch(f"{stack.base}/p/{mint(past, KEYS)}")
    assert status == 410 and 'data-outcome="expired"' in page

    status, page = fetch(f"{stack.base}/choose", {"t": link})  # the link is not a choice
    assert status == 400 and 'data-outcome="invalid"' in page
    stale = replace(past, purpose="choose", offer_id="portal-x")
    status, page = fetch(f"{stack.base}/choose", {"t": mint(stale, KEYS)})
    assert status == 410
    assert stack.portal_events() == before


def test_pages_are_neither_cached_nor_framed_nor_referred_and_big_forms_are_refused(
    stack: Stack,
) -> None:
    request = urllib.request.Request(stack.link("D-PORTAL-1", "dispatch-headers"))
    with urllib.request.urlopen(request, timeout=20) as response:
        headers = response.headers
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert "script-src" not in headers["Content-Security-Policy"]
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "server" not in {name.lower() for name in headers}
    status, _ = fetch(f"{stack.base}/choose", {"t": "A" * 5000})
    assert status == 413


def test_nothing_personal_is_logged(stack: Stack) -> None:
    """Run last: what every request above logged names no debtor, account or token."""
    link = stack.link("D-PORTAL-1", "dispatch-browser").rsplit("/", 1)[1]
    fetch(f"{stack.base}/p/{link}")
    logged = "\n".join(stack.logs.lines)
    assert "portal link" in logged  # the portal does log, by the link's hash
    for secret in ("D-PORTAL", "ACC-1111", "ACC-2222", "1111", "2222", link[:16]):
        assert secret not in logged
