"""The desk's pages and actions (Starlette): the queue, a task, and the
POSTs that reply, record an outcome, close, sign in and out.

Every request names its agent (a signed session cookie, or the trusted
proxy's header) or is refused: a page redirects to the sign-in form (401
with a trusted header), a POST is answered 401 and does nothing. Every POST
carries the CSRF token of the agent's session. Pages carry no script and are
sent with a Content-Security-Policy that allows none."""

from __future__ import annotations

import logging
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any, Final

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from recaudo.contracts.money import format_money
from recaudo.contracts.records import AgentTask
from recaudo.desk import actions
from recaudo.desk.actions import DeskError
from recaudo.desk.masking import mask_id
from recaudo.desk.passwords import verify_password
from recaudo.desk.publisher import DeskPublisher
from recaudo.desk.sessions import LOGIN_COOKIE, SESSION_COOKIE, Identity, Signer, identify
from recaudo.desk.store import DeskStore
from recaudo.kafka.producer import DeliveryError
from recaudo.process.http_service import BodyTooLarge, probe_routes, read_body
from recaudo.settings import Settings

log = logging.getLogger(__name__)

MAX_FORM_BYTES: Final = 64 * 1024
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_TASK_ID_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
)


@cache
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("recaudo.desk", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["money"] = format_money
    return env


def render(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    values.setdefault("agent", None)
    values.setdefault("error", None)
    values.setdefault("done", None)
    values.setdefault("csrf", "")
    values.setdefault("can_sign_out", False)
    body = _templates().get_template(name).render(**values)
    return HTMLResponse(body, status, headers=SECURITY_HEADERS)


def _waiting(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} d"


class DeskApp:
    """The ASGI app (:meth:`asgi`) over the desk's store and publisher."""

    def __init__(
        self,
        settings: Settings,
        store: DeskStore,
        publisher: DeskPublisher,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.store = store
        self.publisher = publisher
        self.clock = clock
        key = settings.desk_session_key
        self.signer = Signer(
            key.get_secret_value().encode() if key is not None else secrets.token_bytes(32)
        )
        self.refused = 0
        self.actions = 0

    # --- who is asking -------------------------------------------------------------

    def _identity(self, request: Request) -> Identity | None:
        return identify(
            self.signer,
            cookie=request.cookies.get(SESSION_COOKIE),
            headers=request.headers,
            trusted_header=self.settings.desk_trusted_header,
            agents=self.settings.desk_agents,
            now=time.time(),
        )

    def _refuse(self, request: Request) -> Response:
        self.refused += 1
        if request.method == "GET" and self.settings.desk_trusted_header is None:
            return RedirectResponse("/login", 303, headers=SECURITY_HEADERS)
        return render(
            "message.html",
            401,
            message="No identified agent: sign in (or come through the desk's proxy).",
            back="/login",
        )

    def _page_values(self, who: Identity) -> dict[str, Any]:
        return {
            "agent": who.agent,
            "csrf": self.signer.csrf(who.binding),
            "can_sign_out": self.settings.desk_trusted_header is None,
        }

    async def _form(self, request: Request) -> dict[str, str]:
        body = await read_body(request, MAX_FORM_BYTES, self.settings.webhooks_body_timeout_s)
        pairs = urllib.parse.parse_qsl(
            body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=30
        )
        return dict(pairs)

    def _guarded(
        self, handler: Callable[[Request, Identity], Awaitable[Response]], *, post: bool
    ) -> Callable[[Request], Awaitable[Response]]:
        """``handler`` for an identified agent only; on a POST, with the form
        read and its CSRF token checked first."""

        async def endpoint(request: Request) -> Response:
            who = self._identity(request)
            if who is None:
                return self._refuse(request)
            if post:
                try:
                    form = await self._form(request)
                except BodyTooLarge:
                    return render("message.html", 413, message="Form too large.", back="/")
                except (TimeoutError, ValueError):
                    return render("message.html", 400, message="Unreadable form.", back="/")
                if not self.signer.check_csrf(who.binding, form.get("csrf")):
                    self.refused += 1
                    log.info("desk: a POST without a valid CSRF token refused")
                    return render(
                        "message.html",
                        403,
                        message=(
                            "The form's security token is missing or stale: reload the page "
                            "and submit again."
                        ),
                        back="/",
                        **self._page_values(who),
                    )
                request.state.form = form
            return await handler(request, who)

        return endpoint

    # --- sign in and out -----------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        if self.settings.desk_trusted_header is not None:
            return render(
                "message.html", 404, message="Agents sign in at the desk's proxy.", back="/"
            )
        nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)
        response = render("login.html", csrf=self.signer.csrf(f"login:{nonce}"))
        self._cookie(response, LOGIN_COOKIE, nonce, 600)
        return response

    async def login(self, request: Request) -> Response:
        if self.settings.desk_trusted_header is not None:
            return render(
                "message.html", 404, message="Agents sign in at the desk's proxy.", back="/"
            )
        try:
            form = await self._form(request)
        except (BodyTooLarge, TimeoutError, ValueError):
            return render("message.html", 400, message="Unreadable form.", back="/login")
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not nonce or not self.signer.check_csrf(f"login:{nonce}", form.get("csrf")):
            self.refused += 1
            return render(
                "message.html",
                403,
                message="The sign-in form is stale: reload it and sign in again.",
                back="/login",
            )
        agent = form.get("agent", "").strip()
        stored = self.settings.desk_agents.get(agent)
        ok = await run_in_threadpool(verify_password, form.get("password", ""), stored)
        now = self.clock()
        if not ok:
            self.refused += 1
            # A name that is no agent may be a password typed in the wrong box.
            who = agent if stored is not None else "(unknown)"
            await run_in_threadpool(
                self.store.audit, uuid.uuid4(), now, who, "sign_in_refused", None, {}
            )
            log.info("desk: a sign-in refused")
            return render(
                "login.html",
                401,
                csrf=self.signer.csrf(f"login:{nonce}"),
                error="Unknown agent or wrong password.",
            )
        await run_in_threadpool(self.store.audit, uuid.uuid4(), now, agent, "sign_in", None, {})
        log.info("desk: agent %s signed in", agent)
        response = RedirectResponse("/", 303, headers=SECURITY_HEADERS)
        ttl = self.settings.desk_session_ttl_s
        self._cookie(response, SESSION_COOKIE, self.signer.session(agent, time.time(), ttl), ttl)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    async def logout(self, request: Request, who: Identity) -> Response:
        response = RedirectResponse("/login", 303, headers=SECURITY_HEADERS)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    def _cookie(self, response: Response, name: str, value: str, max_age: float) -> None:
        response.set_cookie(
            name,
            value,
            max_age=int(max_age),
            path="/",
            httponly=True,
            secure=self.settings.desk_secure_cookie,
            samesite="strict",
        )

    # --- pages ---------------------------------------------------------------------

    async def queue(self, request: Request, who: Identity) -> Response:
        tasks = await run_in_threadpool(self.store.open_tasks)
        now = self.clock()
        rows = [
            {
                "task_id": t.task_id,
                "priority": t.priority,
                "reason": t.reason,
                "waiting": _waiting(actions.minutes_open(t, now)),
                "debtor": mask_id(t.debtor_id),
                "account": mask_id(t.account_id),
                "channel": next(
                    (x.channel for x in reversed(t.transcript) if x.direction == "INBOUND"), ""
                ),
            }
            for t in tasks
        ]
        closed = request.query_params.get("closed")
        done = f"Task {closed} closed: automatic answers resume." if closed else None
        return render("queue.html", tasks=rows, done=done, **self._page_values(who))

    async def _task_or_404(self, request: Request, who: Identity) -> AgentTask | Response:
        task_id = str(request.path_params["task_id"])
        task = None
        if 0 < len(task_id) <= 128 and set(task_id) <= _TASK_ID_CHARS:
            task = await run_in_threadpool(self.store.task, task_id)
        if task is None:
            return render(
                "message.html",
                404,
                message="No such task (the sink may not have written it yet).",
                back="/",
                **self._page_values(who),
            )
        return task

    async def task_page(self, request: Request, who: Identity) -> Response:
        found = await self._task_or_404(request, who)
        if not isinstance(found, AgentTask):
            return found
        # Opening a task shows a debtor's data: audited like an action.
        await run_in_threadpool(
            self.store.audit, uuid.uuid4(), self.clock(), who.agent, "view", found, {}
        )
        return await self._render_task(request, who, found)

    async def _render_task(
        self,
        request: Request,
        who: Identity,
        task: AgentTask,
        *,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        now = self.clock()
        view = await run_in_threadpool(self.store.view, task.debtor_id, now)
        audit = await run_in_threadpool(self.store.audit_trail, task.task_id)
        flags = ", ".join(k for k, v in view.flags.model_dump().items() if v) if view else ""
        done = {
            "reply": "Reply handed to the pipeline: the policy engine sends, holds or refuses it.",
            "outcome": "Outcome recorded.",
        }.get(request.query_params.get("done", ""))
        try:
            channel: str | None = actions.reply_channel(task)
        except DeskError:
            channel = None
        return render(
            "task.html",
            status,
            task=task,
            view=view,
            flags=flags,
            audit=audit,
            reply_channel=channel,
            form_id=secrets.token_urlsafe(16),
            error=error,
            done=done,
            **self._page_values(who),
        )

    # --- actions -------------------------------------------------------------------

    async def _act(
        self,
        request: Request,
        who: Identity,
        make: Callable[
            [AgentTask, dict[str, str], datetime], tuple[list[Any], str, dict[str, Any]]
        ],
        action: str,
        after: str,
    ) -> Response:
        found = await self._task_or_404(request, who)
        if not isinstance(found, AgentTask):
            return found
        form: dict[str, str] = request.state.form
        now = self.clock()
        try:
            records, audit_what, detail = make(found, form, now)
        except DeskError as exc:
            return await self._render_task(request, who, found, error=str(exc), status=400)
        try:
            await run_in_threadpool(self.publisher.publish, records)
        except DeliveryError:
            log.warning("desk: %s on task %s not acknowledged by the broker", action, found.task_id)
            return await self._render_task(
                request,
                who,
                found,
                error="The pipeline did not take it (broker unavailable): submit again.",
                status=503,
            )
        audit_id = actions.desk_id(found.task_id, form.get("form_id", ""), f"audit/{audit_what}")
        await run_in_threadpool(self.store.audit, audit_id, now, who.agent, action, found, detail)
        self.actions += 1
        log.info("desk: agent %s %s on task %s", who.agent, action, found.task_id)
        return RedirectResponse(after.format(task=found.task_id), 303, headers=SECURITY_HEADERS)

    async def reply(self, request: Request, who: Identity) -> Response:
        def make(
            task: AgentTask, form: dict[str, str], now: datetime
        ) -> tuple[list[Any], str, dict[str, Any]]:
            record = actions.reply(
                task, who.agent, form.get("text", ""), form.get("form_id", ""), now
            )
            sent = record.agent_reply
            if sent is None:  # pragma: no cover  (actions.reply always sets it)
                raise DeskError("no reply to send")
            detail = {
                "summary": f"reply on {sent.channel}",
                "reply_id": str(sent.reply_id),
                "chars": len(sent.text),
            }
            return [record], "reply", detail

        return await self._act(request, who, make, "reply", "/tasks/{task}?done=reply")

    async def outcome(self, request: Request, who: Identity) -> Response:
        def make(
            task: AgentTask, form: dict[str, str], now: datetime
        ) -> tuple[list[Any], str, dict[str, Any]]:
            view = self.store.view(task.debtor_id, now)
            kind = form.get("kind", "")
            currency = "USD"
            if kind in ("promise", "plan"):
                currency = actions.account_of(task, view).currency
            outcome = actions.parse_outcome(form, currency, now.date())
            records = actions.outcome_records(task, view, outcome, form.get("form_id", ""), now)
            detail = {
                "summary": outcome.describe(),
                "events": [str(r.event_id) for r in records],
            }
            return list(records), "outcome", detail

        return await self._act(request, who, make, "outcome", "/tasks/{task}?done=outcome")

    async def close(self, request: Request, who: Identity) -> Response:
        def make(
            task: AgentTask, form: dict[str, str], now: datetime
        ) -> tuple[list[Any], str, dict[str, Any]]:
            record = actions.close(
                task, who.agent, form.get("note", ""), form.get("form_id", ""), now
            )
            return [record], "close", {"summary": record.outcome or "closed"}

        return await self._act(request, who, make, "close", "/?closed={task}")

    # --- the app -------------------------------------------------------------------

    def metrics(self) -> dict[str, float]:
        return {
            "recaudo_desk_requests_refused_total": float(self.refused),
            "recaudo_desk_actions_total": float(self.actions),
            "recaudo_desk_records_published_total": float(self.publisher.published),
        }

    def asgi(self) -> Starlette:
        g = self._guarded
        return Starlette(
            routes=[
                *probe_routes(self.store.ping, self.metrics),
                Route("/login", self.login_page, methods=["GET"]),
                Route("/login", self.login, methods=["POST"]),
                Route("/logout", g(self.logout, post=True), methods=["POST"]),
                Route("/", g(self.queue, post=False), methods=["GET"]),
                Route("/tasks/{task_id}", g(self.task_page, post=False), methods=["GET"]),
                Route("/tasks/{task_id}/reply", g(self.reply, post=True), methods=["POST"]),
                Route("/tasks/{task_id}/outcome", g(self.outcome, post=True), methods=["POST"]),
                Route("/tasks/{task_id}/close", g(self.close, post=True), methods=["POST"]),
            ]
        )
