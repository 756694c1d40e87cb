"""A headless Chromium for browser tests: found on the machine, or installed
from Debian's ``chromium`` package when the test runs as root with apt-get;
without one the test fails."""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find() -> str | None:
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _apt_install() -> str:
    """Install Debian's chromium; what went wrong, if it did."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"])
    for step in steps:
        done = subprocess.run(step, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            return f"`{' '.join(step)}` exited {done.returncode}: {done.stderr[-800:]}"
    return ""


def locate() -> str:
    """The browser's path; installs it if it can, else fails saying why (a
    skipped browser test would hide that the dashboard went unchecked)."""
    found = find()
    if found:
        return found
    why = "no chromium on PATH"
    can_install = sys.platform.startswith("linux") and shutil.which("apt-get") and os.geteuid() == 0
    if can_install:
        print("\n*** installing Debian's chromium for the dashboard browser test ***", flush=True)
        failure = _apt_install()
        found = find()
        if found:
            return found
        why += f"; installing it failed: {failure}"
    else:
        why += (
            "; cannot install it here (needs Linux, apt-get and root): `apt-get install chromium`"
        )
    pytest.fail(f"the dashboard browser test needs Chromium: {why}")


def _argv(binary: str, *args: str) -> list[str]:
    profile = tempfile.mkdtemp(prefix="rc-chromium-")
    return [
        binary,
        "--headless",
        # Root in a container has no user namespaces for the sandbox.
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]


def dump_dom(binary: str, url: str, wait_ms: int = 4000) -> str:
    """The DOM after the page's scripts ran for ``wait_ms`` of virtual time."""
    done = subprocess.run(
        _argv(binary, f"--virtual-time-budget={wait_ms}", "--dump-dom", url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def screenshot(binary: str, url: str, path: Path, size: str = "1400,2000") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        _argv(
            binary,
            f"--screenshot={path}",
            f"--window-size={size}",
            "--virtual-time-budget=3000",
            url,
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and path.is_file(), done.stderr[-2000:]
    return path


def card(dom: str, name: str) -> str:
    """The value shown on the dashboard's ``name`` figure card."""
    found = re.search(
        rf'data-figure="{name}"><div class="label">[^<]*</div><div class="value">([^<]*)</div>',
        dom,
    )
    assert found, f"no {name} card in the page"
    return found.group(1)


#: Run in the page once it has loaded: what of it lies outside the screen or
#: its section, and how the money lists laid out; posted to the frame around it.
_LAYOUT_PROBE = """
<script>
window.addEventListener("load", () => {
  const screen = document.documentElement.clientWidth;
  const out = {screen, pageWidth: document.documentElement.scrollWidth, outside: [],
               wrapped: [], currencies: {}};
  for (const cell of document.querySelectorAll("main section td, main section th, .card")) {
    const box = cell.getBoundingClientRect();
    const section = cell.closest("section").getBoundingClientRect();
    if (box.width === 0) continue;
    if (box.left < -0.5 || box.right > screen + 0.5 || box.right > section.right + 0.5) {
      out.outside.push(cell.textContent.trim().slice(0, 40));
    }
  }
  for (const item of document.querySelectorAll("[data-currency]")) {
    const lineHeight = parseFloat(getComputedStyle(item).lineHeight);
    if (item.getBoundingClientRect().height > 1.5 * lineHeight) {
      out.wrapped.push(item.textContent);
    }
    const where = item.closest("[data-figure]") ? "card" : item.closest("section")
      .querySelector("div[id]").id;
    out.currencies[where] = (out.currencies[where] || 0) + 1;
  }
  parent.postMessage(JSON.stringify(out), "*");
});
</script>
"""

#: A screen of a given width: the page in a frame that wide (headless
#: Chromium's own window is never narrower than 500 pixels); what the probe
#: posts lands in ``body[data-layout]`` for ``--dump-dom`` to carry out.
_SCREEN = """<!doctype html><html><body style="margin:0">
<iframe src="page.html" style="border:0;width:{width}px;height:{height}px"></iframe>
<script>
window.addEventListener("message", (event) => {{ document.body.dataset.layout = event.data; }});
</script></body></html>"""


def layout(binary: str, html: str, width: int, height: int = 2400) -> dict[str, Any]:
    """How ``html`` lays out on a screen ``width`` CSS pixels wide: cells and
    cards outside the screen or their section, currency lines that wrap, and
    currency lines per section."""
    folder = Path(tempfile.mkdtemp(prefix="rc-layout-"))
    (folder / "page.html").write_text(
        html.replace("</body>", _LAYOUT_PROBE + "</body>"), encoding="utf-8"
    )
    screen = folder / "screen.html"
    screen.write_text(_SCREEN.format(width=width, height=height), encoding="utf-8")
    done = subprocess.run(
        _argv(
            binary,
            "--allow-file-access-from-files",
            f"--window-size={max(width, 500) + 40},{height}",
            "--virtual-time-budget=3000",
            "--dump-dom",
            screen.as_uri(),
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'data-layout="([^"]*)"', done.stdout)
    assert found, "the layout probe did not run: " + done.stdout[:500]
    result: dict[str, Any] = json.loads(html_lib.unescape(found.group(1)))
    return result
