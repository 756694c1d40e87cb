"""The agent desk in a real browser (headless Chromium) on the real broker
and Postgres, beside the real view worker and agent-task sink: an agent signs
in, opens the task a debtor's "I want a person" opened, replies (the answer
leaves through the policy engine as a dispatch), records a promise (it
reaches the debtor's view), closes the task, and the debtor's next message is
answered automatically again. Then what the desk refuses."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest
from pydantic import SecretStr

from recaudo.contracts.records import DebtorView, DispatchCommand
from recaudo.db.agent_task_store import write_tasks
from recaudo.db.view_store import read_view
from recaudo.desk.passwords import hash_password
from recaudo.desk.server import DeskService
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings
from tests.integration.dashboard import chromium
from tests.integration.desk.cdp import Browser
from tests.integration.desk.fixtures import (
    FRIDAY,
    NOON,
    PHONE,
    TasksRead,
    arrears,
    message,
    publish,
    sms_sent,
    task_row,
    task_sink,
    view_worker,
)
from tests.integration.running import run_with
from tests.integration.waiting import wait_until
from tests.unit.desk.fixtures import a_task

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
AGENTS = {"ana": hash_password(PASSWORD), "luis": hash_password("another one")}
DEBTOR = "D-DESK-0001"
TEXT = "Hola, soy Ana del banco. Entiendo su situación; le propongo pagar el viernes."


def desk_settings(settings: Settings, **update: Any) -> Settings:
    return settings.model_copy(
        update={
            "conversations": True,
            "desk_agents": AGENTS,
            "desk_session_key": SecretStr("a desk key for this test only"),
            **update,
        }
    )


def view_of(dsn: str) -> DebtorView | None:
    with psycopg.connect(dsn) as conn:
        return read_view(conn, DEBTOR, NOON)


def audited(dsn: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT agent, action FROM agent_audit ORDER BY at, recorded_at"
        ).fetchall()
    return [(agent, action) for agent, action in rows]


def test_an_agent_answers_records_a_promise_and_closes_and_automation_resumes(
    pg_settings: Settings,
) -> None:
    binary = chromium.locate()
    settings = desk_settings(pg_settings)
    dsn = settings.database_dsn()
    serde = Serde(settings)
    tasks_read = TasksRead(settings)
    processor = view_worker(settings, tasks_read)

    def sent(template: str) -> list[DispatchCommand]:
        return [d for d in sms_sent(settings, serde, DEBTOR) if d.template == template]

    def scenario() -> None:
        publish(settings, arrears(DEBTOR))
        assert wait_until(lambda: len(sms_sent(settings, serde, DEBTOR)) >= 1, 60)
        outreach = sms_sent(settings, serde, DEBTOR)[0]
        publish(settings, [message(DEBTOR, "quiero hablar con una persona", outreach.dispatch_id)])
        task_id = task_row(dsn, DEBTOR, lambda r: r["status"] == "OPEN")["task_id"]
        assert wait_until(lambda: view_of(dsn) is not None, 60), "the view reaches Postgres"

        with (
            DeskService(settings, port=0, clock=lambda: NOON + timedelta(minutes=2)) as desk,
            Browser(binary) as browser,
        ):
            browser.open(desk.url)
            assert urllib.parse.urlparse(browser.url).path == "/login", "no agent: sign in first"
            browser.submit("#login", {"agent": "ana", "password": PASSWORD})
            assert browser.url == desk.url and browser.text("#agent") == "ana"
            queue = browser.html
            assert f'data-task="{task_id}"' in queue
            assert DEBTOR not in queue, "identifiers are masked in the list"
            assert "D-•••••••01" in queue

            browser.open(f"{desk.url}tasks/{task_id}")
            assert "quiero hablar con una persona" in (browser.text("#transcript") or "")
            assert browser.text("#reason") == "ask_human"
            assert browser.text("#debtor") == DEBTOR
            assert f"{DEBTOR}-ACC-0001" in (browser.text("#view") or "")

            browser.submit("#reply", {"text": TEXT})
            assert "done=reply" in browser.url and browser.text("#done")
            replies = "conversation.agent_reply"
            assert wait_until(lambda: len(sent(replies)) >= 1, 60), "the reply is dispatched"
            (answer,) = sent(replies)
            assert answer.address == PHONE and answer.trigger == "reply_received"
            assert answer.body is not None and answer.body.startswith(TEXT)

            browser.submit("#outcome", {"kind": "promise", "amount": "150000", "due": str(FRIDAY)})
            assert "done=outcome" in browser.url

            def promised() -> bool:
                view = view_of(dsn)
                return view is not None and any(
                    p.promised_date == FRIDAY and p.amount_minor == 15_000_000
                    for p in view.promises
                )

            assert wait_until(promised, 60), "the promise reaches the debtor's view"

            browser.submit("#close", {"note": "promised Friday by phone"})
            assert urllib.parse.urlparse(browser.url).path == "/"
            assert "closed" in (browser.text("#done") or "")
            closed = task_row(dsn, DEBTOR, lambda r: r["status"] == "CLOSED")
            assert (closed["closed_by"], closed["outcome"]) == ("ana", "promised Friday by phone")
            # The OPEN record read back, the reply's, the close's.
            assert wait_until(lambda: tasks_read.count >= 3, 30)

            publish(settings, [message(DEBTOR, "¿cuánto debo?", None, minute=5)])
            assert wait_until(lambda: len(sent("conversation.balance")) >= 1, 60), (
                "automation answers the debtor again"
            )
            assert len(sent(replies)) == 1, "the reply was sent once"

        trail = audited(dsn)
        assert [a for a in trail if a[1] != "view"] == [
            ("ana", "sign_in"),
            ("ana", "reply"),
            ("ana", "outcome"),
            ("ana", "close"),
        ]
        assert trail[1] == ("ana", "view"), "opening the task is audited"

    with task_sink(settings):
        run_with(processor, scenario)


# --- what the desk refuses ------------------------------------------------------------


@pytest.fixture
def refusing_desk(pg_settings: Settings) -> Iterator[tuple[DeskService, Settings]]:
    settings = desk_settings(pg_settings, desk_secure_cookie=False)
    with DeskService(settings, port=0, clock=lambda: NOON) as desk:
        with psycopg.connect(settings.database_dsn()) as conn:
            write_tasks(conn, [a_task(occurred_at=NOON, created_at=NOON)])
        yield desk, settings


def sign_in(client: httpx.Client, password: str) -> httpx.Response:
    page = client.get("/login")
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    return client.post("/login", data={"csrf": token, "agent": "ana", "password": password})


def test_no_agent_a_wrong_password_or_a_missing_csrf_token_is_refused(
    refusing_desk: tuple[DeskService, Settings],
) -> None:
    desk, settings = refusing_desk
    task = a_task()
    reply_url = f"/tasks/{task.task_id}/reply"
    with httpx.Client(base_url=desk.url, follow_redirects=False, timeout=30) as anonymous:
        page = anonymous.get(f"/tasks/{task.task_id}")
        assert page.status_code == 303 and page.headers["location"] == "/login"
        assert task.debtor_id not in page.text
        refused = anonymous.post(reply_url, data={"text": "hola", "form_id": "f" * 16})
        assert refused.status_code == 401
        # A session cookie signed with another key is nobody's.
        anonymous.cookies.set("recaudo_desk", "eyJhIjoiYW5hIn0.AAAA")
        assert anonymous.get("/").status_code == 303

    with httpx.Client(base_url=desk.url, follow_redirects=False, timeout=30) as wrong:
        answer = sign_in(wrong, "not the password")
        assert answer.status_code == 401 and "wrong password" in answer.text
        assert "recaudo_desk=" not in answer.headers.get("set-cookie", "")
        assert wrong.get("/").status_code == 303
        no_token = wrong.post("/login", data={"agent": "ana", "password": PASSWORD})
        assert no_token.status_code == 403, "the sign-in form needs its token too"

    with httpx.Client(base_url=desk.url, follow_redirects=False, timeout=30) as agent:
        signed_in = sign_in(agent, PASSWORD)
        assert signed_in.status_code == 303
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        page = agent.get(f"/tasks/{task.task_id}")
        assert page.status_code == 200 and task.debtor_id in page.text
        assert "script-src" not in page.headers["content-security-policy"]
        assert "default-src 'none'" in page.headers["content-security-policy"]
        form_id = page.text.split('name="form_id" value="')[1].split('"')[0]
        missing = agent.post(reply_url, data={"text": "hola", "form_id": form_id})
        assert missing.status_code == 403
        forged = agent.post(reply_url, data={"text": "hola", "form_id": form_id, "csrf": "x"})
        assert forged.status_code == 403
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        unclear = agent.post(
            f"/tasks/{task.task_id}/outcome",
            data={"csrf": csrf, "form_id": form_id, "kind": "dispute", "reason": " "},
        )
        assert unclear.status_code == 400 and "a dispute needs a reason" in unclear.text

    assert desk.publisher.published == 0, "nothing refused reached a topic"
    with psycopg.connect(settings.database_dsn()) as conn:
        actions = [
            r[0] for r in conn.execute("SELECT action FROM agent_audit ORDER BY at, recorded_at")
        ]
    assert actions == ["sign_in_refused", "sign_in", "view"]


def test_behind_a_proxy_only_its_header_names_the_agent(pg_settings: Settings) -> None:
    settings = desk_settings(pg_settings, desk_trusted_header="X-Forwarded-User")
    with (
        DeskService(settings, port=0, clock=lambda: NOON) as desk,
        httpx.Client(base_url=desk.url, follow_redirects=False, timeout=30) as client,
    ):
        assert client.get("/").status_code == 401
        assert client.get("/", headers={"X-Forwarded-User": "mallory"}).status_code == 401
        page = client.get("/", headers={"X-Forwarded-User": "luis"})
        assert page.status_code == 200 and '<span id="agent">luis</span>' in page.text
        assert client.get("/login").status_code == 404, "no sign-in page behind a proxy"
        assert client.post("/", headers={"X-Forwarded-User": "luis"}).status_code == 405
