"""A headless Chromium driven over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: fds 3 and 4, NUL-separated JSON), so a test
can sign in, fill forms and click like a person; no driver package needed."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from types import TracebackType
from typing import Any

#: Chromium reads commands on fd 3 and writes answers on fd 4: bash puts the
#: pipes there, whatever numbers they have here.
_LAUNCH = 'exec 3<&"$1" 4>&"$2"; shift 2; exec "$@"'


class CdpError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with one page; :meth:`call` sends a command to it."""

    def __init__(self, binary: str, timeout_s: float = 30.0) -> None:
        self.timeout_s = timeout_s
        self._profile = tempfile.mkdtemp(prefix="rc-cdp-")
        commands_r, self._commands = os.pipe()
        self._answers, answers_w = os.pipe()
        self._proc = subprocess.Popen(
            [
                shutil.which("bash") or "/bin/bash",
                "-c",
                _LAUNCH,
                "bash",
                str(commands_r),
                str(answers_w),
                binary,
                "--headless",
                "--no-sandbox",  # root in a container has no user namespaces
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-pipe",
                f"--user-data-dir={self._profile}",
                "about:blank",
            ],
            pass_fds=(commands_r, answers_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(commands_r)
        os.close(answers_w)
        self._next_id = 0
        self._lock = threading.Lock()
        self._answered: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="cdp-reader", daemon=True)
        self._reader.start()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.call("Page.enable", session=True)

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._answers, 65536)
            if not chunk:
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message and message["id"] in self._answered:
                    self._answered[message["id"]].put(message)
                else:
                    self._events.put(message)

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = False
    ) -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            answer: queue.Queue[dict[str, Any]] = queue.Queue()
            self._answered[ident] = answer
            message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
            if session:
                message["sessionId"] = self._session
            os.write(self._commands, json.dumps(message).encode() + b"\0")
        try:
            reply = answer.get(timeout=self.timeout_s)
        except queue.Empty:
            raise CdpError(f"{method}: no answer in {self.timeout_s} s") from None
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def _drain_events(self) -> None:
        while not self._events.empty():
            self._events.get_nowait()

    def _wait_load(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpError(f"the page did not load in {self.timeout_s} s")
            try:
                event = self._events.get(timeout=left)
            except queue.Empty:
                continue
            if event.get("method") == "Page.loadEventFired":
                return

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=True,
        )
        if "exceptionDetails" in result:
            raise CdpError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        """Go to ``url`` and wait until it has loaded."""
        self._drain_events()
        self.call("Page.navigate", {"url": url}, session=True)
        self._wait_load()

    def submit(self, form: str, fields: dict[str, str]) -> None:
        """Fill ``form``'s fields (by name), click its button, wait for the next page."""
        self._drain_events()
        script = (
            "(() => {"
            f"const form = document.querySelector({json.dumps(form)});"
            f"for (const [name, value] of Object.entries({json.dumps(fields)}))"
            "  form.elements[name].value = value;"
            "form.querySelector('button[type=submit]').click();"
            "})()"
        )
        self.evaluate(script)
        self._wait_load()

    @property
    def url(self) -> str:
        return str(self.evaluate("location.href"))

    @property
    def html(self) -> str:
        return str(self.evaluate("document.documentElement.outerHTML"))

    def text(self, selector: str) -> str | None:
        value = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " return e ? e.textContent : null; })()"
        )
        return None if value is None else str(value)

    def close(self) -> None:
        with contextlib.suppress(CdpError, OSError):
            self.call("Browser.close")
        try:
            self._proc.wait(15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(15)
        os.close(self._commands)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
