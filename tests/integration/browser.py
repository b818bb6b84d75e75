"""What the console's browser tests share: the system Chromium, screenshots in one folder, and
an accessibility check with axe-core.

Screenshots go to ``$INDUNET_SCREENSHOTS`` or, by default, ``build/screenshots/`` in the
repository, one folder per test (``shots`` fixture in ``conftest.py``), so a person can look
at every page a run produced in one place.

``check_a11y(page)`` runs axe-core (the npm package's ``axe.min.js``, as shipped inside the
``axe-playwright-python`` wheel so that ``pip install -e '.[test]'`` brings it) against the
page for WCAG 2.0/2.1 A and AA and fails with each violation's rule, impact and first nodes.
It is run through the DevTools protocol (``page.evaluate``), so the console's
Content-Security-Policy, which forbids inline scripts, stays on.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import REQUIRE_SERVICES

REPO = Path(__file__).resolve().parents[2]
SHOTS_DIR = REPO / "build" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def need_chromium() -> None:
    """Skip (or, under INDUNET_REQUIRE_SERVICES=1, fail) without a system Chromium."""
    if CHROMIUM.exists():
        return
    msg = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if REQUIRE_SERVICES:
        pytest.fail(msg + " and INDUNET_REQUIRE_SERVICES=1")
    pytest.skip(msg)


@functools.cache
def axe_source() -> str:
    """axe-core's browser bundle."""
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


def a11y_violations(page: Any, *, skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """axe-core's WCAG A/AA violations on ``page`` as it is now, minus rule ids in ``skip``."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})",
        WCAG_TAGS,
    )
    return [v for v in result["violations"] if v["id"] not in skip]


def check_a11y(page: Any, *, skip: tuple[str, ...] = ()) -> None:
    """Fail if axe-core finds any WCAG 2.x A or AA violation on ``page`` (rules in ``skip``
    are left out; say why where you call it)."""
    found = a11y_violations(page, skip=skip)
    if found:
        lines = []
        for v in found:
            targets = "; ".join(" ".join(n["target"]) for n in v["nodes"][:3])
            lines.append(f"{v['id']} ({v['impact']}): {v['help']} — {targets}")
        pytest.fail(f"accessibility violations on {page.url}:\n" + "\n".join(lines))


def admin_page_zh(browser: Any, url: str, password: str) -> Any:
    """A zh-CN page (1280×900, Asia/Shanghai) of a new context, logged in as ``admin`` on the
    way to ``url`` (the login form sends it back there)."""
    ctx = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    page.goto(url)
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", password)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(url)
    return page
