"""A headless Chromium for browser tests: found on the machine, or installed
from Debian's ``chromium`` package when the test runs as root with apt-get;
without one the test fails."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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
