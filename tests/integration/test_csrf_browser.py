"""CSRF in a real headless Chromium: a page on another port of the same host auto-submits a
hidden form to the console while the victim is logged in; the server refuses it, and the
console's own form still works in the same browser."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.integration.servers import Server, free_port, group
from tests.integration.test_console_browser import CHROMIUM, CHROMIUM_ARGS, need_chromium

from indunet import core

pytestmark = pytest.mark.integration
USCC = core.make_uscc("91350200MA3FXRGE")
ATTACK = """<!doctype html><html><body>
<form id="f" method="post" action="{target}/ids/enterprises">
<input type="hidden" name="uscc" value="{uscc}"><input type="hidden" name="name" value="Forged">
</form><script>document.getElementById("f").submit()</script></body></html>"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("console", "up")


@pytest.fixture
def attacker(server: Server) -> Iterator[str]:
    """A page served from another port of 127.0.0.1 that posts a hidden form to the console."""
    page = ATTACK.format(target=server.url, uscc=USCC).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *_args: object) -> None:
            return

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def enterprise_names(server: Server, password: str) -> list[str]:
    token = httpx.post(
        server.url + "/api/v1/auth/token", json={"username": "admin", "password": password}
    ).json()["token"]
    resp = httpx.get(
        server.url + "/api/v1/enterprises", headers={"Authorization": f"Bearer {token}"}
    )
    return [e["name"] for e in resp.json()]


def test_a_forged_form_from_another_port_is_refused(server: Server, attacker: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    password = server.admin_password
    assert password, server.output
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale="en")
            page.set_default_timeout(15_000)
            page.goto(server.url + "/login?next=/ids/enterprises")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            expect(page).to_have_url(server.url + "/ids/enterprises")

            # The victim opens the attacker's page: it posts the hidden form at once.
            page.goto(attacker)
            page.wait_for_url(server.url + "/ids/enterprises")
            assert "csrf_refused" in page.content()
            assert "Forged" not in enterprise_names(server, password)

            # The console's own form, in the same browser with the same cookie, still works.
            page.goto(server.url + "/ids/enterprises")
            page.fill("input[name=uscc]", USCC)
            page.fill("input[name=name]", "Genuine")
            page.click("form.stack button[type=submit]")
            expect(page.locator(".alert.ok")).to_be_visible()
            assert "Genuine" in enterprise_names(server, password)
        finally:
            browser.close()
