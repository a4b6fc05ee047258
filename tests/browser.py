"""A real browser for the web app's tests: Debian's Chromium driven by Playwright for Python
(`executable_path`: Playwright's own downloaded browsers are not used), and the web app built
by scripts/build-ui. Where Chromium, Playwright or Node.js is missing the tests skip and say
which; in CI (CI=true) that is a failure."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from tests.backends import IN_CI

if TYPE_CHECKING:
    from playwright.async_api import Browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "docs" / "screenshots"
CLOSE_SECONDS = 15  # for the browser, then for Playwright's driver, to stop


def missing(reason: str) -> NoReturn:
    """Skips the test with `reason`, or fails it in CI where every part must be there."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def build_web_app() -> None:
    """Builds webapp/ into web/ui/ when it is missing or stale (a no-op when up to date)."""
    if not shutil.which("node") or not shutil.which("npm"):
        missing("Node.js and npm are not installed: the web app cannot be built")
    done = subprocess.run(
        [ROOT / "scripts" / "build-ui", "--required"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"the web app does not build:\n{done.stdout}\n{done.stderr}")


def chromium_installed() -> None:
    if not Path(CHROMIUM).exists():
        missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        missing("Playwright for Python is not installed (pip install -e '.[dev]')")
    chromium_installed()
    playwright = await async_playwright().start()
    try:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox"],  # CI runs as root, where Chromium's sandbox cannot start
        )
        try:
            yield browser
        finally:
            await _bounded(browser.close(), "closing Chromium")
    finally:
        # Bounded: at the end of a full run, stopping Playwright's driver once waited for its
        # process for over five minutes (a waitpid that never returned), failing the last test.
        await _bounded(playwright.stop(), "stopping Playwright's driver")


async def _bounded(stopping: Any, what: str) -> None:
    """Awaits `stopping` for at most CLOSE_SECONDS, then leaves it (cancelled) and goes on.
    Not `asyncio.wait_for`, which after its timeout still waits for the cancelled call to
    end: a call stuck where a cancellation is not seen would hold the test up all the same."""
    task = asyncio.ensure_future(stopping)
    done, _ = await asyncio.wait({task}, timeout=CLOSE_SECONDS)
    if not done:
        task.cancel()
        warnings.warn(f"{what} took over {CLOSE_SECONDS} s; left behind", stacklevel=2)
    elif not task.cancelled() and task.exception() is not None:
        warnings.warn(f"{what} failed: {task.exception()!r}", stacklevel=2)


async def screenshot(page: Any, name: str) -> None:
    """A screenshot of the page for docs/screenshots/ (the README shows some)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
