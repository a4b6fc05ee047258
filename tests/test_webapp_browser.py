"""The web app in a real browser (issue 14): headless Chromium against a started server.

A newcomer signs up, tops up through the demo checkout, buys and sees the code appear live
(on both backend pairs: the code travels the in-process bus, then Redis); a dropped socket
resumes from its last event's cursor and loses no SMS; an admin blocks a user in the console
and that user's open page is signed out. The main screens are saved to docs/screenshots/.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import testkit.backends
from app import create_app
from suppliers import demo
from testkit import factory
from tests import backends
from tests.api import Api
from tests.browser import build_web_app, chromium, screenshot
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Server, settings_for
from tests.serving import served

pytestmark = pytest.mark.slow
PHONE = {"viewport": {"width": 390, "height": 780}}  # a phone-sized screen
DESKTOP = {"viewport": {"width": 1100, "height": 800}}
LIVE = 10_000  # ms: the longest a live event may take to show


@pytest.fixture(scope="session")
async def web(backend: backends.Backend) -> AsyncIterator[Api]:
    """A server with the built web app, whose own origin may open websockets, and an API client."""
    build_web_app()
    port = testkit.backends.free_port()
    origin = f"http://127.0.0.1:{port}"
    settings = settings_for(
        backend, allowed_origins=(origin,), public_url=origin, demo_auto_sms_seconds=None
    )
    app = create_app(settings)
    async with served(app, port=port, lifespan="on", ws="websockets-sansio") as (_, uv):
        url = origin  # served() names a port of its own choosing; ours overrides it
        server = Server(url=url, backend=backend.name, runtime=app.state.runtime, uvicorn=uv)
        with server.runtime.database.activate():
            for code in demo.POOLS:
                await factory.numbers(server.runtime, code, 30)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield Api(client, server)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


@pytest.fixture
async def auto_sms(web: Api) -> AsyncIterator[None]:
    """The demo supplier sends the code itself a moment after a purchase (DEMO_AUTO_SMS_SECONDS)."""
    rt = web.rt
    rt.settings = dataclasses.replace(rt.settings, demo_auto_sms_seconds=1.5)
    yield
    rt.settings = dataclasses.replace(rt.settings, demo_auto_sms_seconds=None)


async def signed_in_page(browser: Any, token: str, **options: Any) -> Any:
    """A page of a new browser context whose storage holds the session `token`."""
    context = await browser.new_context(**(options or DESKTOP))
    script = f"localStorage.setItem('smsrooms.token', {json.dumps(token)})"
    await context.add_init_script(script)
    return await context.new_page()


def csp_violations(page: Any) -> list[str]:
    """What the page's Content-Security-Policy blocks, as the browser reports it (stays empty)."""
    blocked: list[str] = []
    page.on(
        "console",
        lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return blocked


async def live(page: Any) -> None:
    await page.get_by_test_id("socket-state").filter(has_text="Live").wait_for(timeout=LIVE)


async def test_a_newcomer_signs_up_tops_up_buys_and_sees_the_code_arrive_live(
    web: Api, browser: Any, auto_sms: None
) -> None:
    context = await browser.new_context(**PHONE)
    page = await context.new_page()
    blocked = csp_violations(page)
    graphql_posts: list[str] = []
    page.on(
        "request",
        lambda r: graphql_posts.append(r.post_data or "") if r.url.endswith("/graphql") else None,
    )
    await page.goto(web.server.url + "/")
    await page.get_by_role("link", name="Sign up", exact=True).first.click()
    email = f"newcomer-{uuid.uuid4().hex[:8]}@example.com"
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill("a long password")
    await screenshot(page, "sign-up")
    await page.get_by_role("button", name="Sign up").click()
    await page.get_by_text("Welcome!").wait_for()
    await live(page)

    await page.get_by_role("link", name="Top up").click()
    await page.get_by_label("Amount").fill("5.00")
    await screenshot(page, "top-up")
    await page.get_by_role("button", name="Continue to payment").click()
    await page.get_by_role("button", name="Pay").click()  # the demo processor's checkout page
    await page.wait_for_url("**/payments/done**")
    await page.get_by_role("link", name="Back to the shop").click()
    await page.get_by_test_id("balance").filter(has_text="5.00").wait_for(timeout=LIVE)

    await page.get_by_label("Search countries and services").fill("telegram united kingdom")
    await screenshot(page, "catalog")
    await page.get_by_role("button", name="Buy a Telegram number in United Kingdom").click()
    await page.get_by_role("button", name=re.compile("^Buy for")).click()
    await page.wait_for_url("**/activations/**")
    await page.get_by_test_id("code-countdown").wait_for()
    await screenshot(page, "activation-waiting")
    reads_before = sum("Activation(" in body for body in graphql_posts)

    code = page.get_by_test_id("code")
    await code.wait_for(timeout=LIVE)  # the demo supplier sent it 1.5 s after the purchase
    assert re.fullmatch(r"\d{4,8}", (await code.inner_text()).strip())
    assert sum("Activation(" in body for body in graphql_posts) == reads_before  # no polling
    await page.get_by_test_id("activation-status").filter(has_text="Code received").wait_for()
    await screenshot(page, "activation-code")
    assert blocked == []
    await context.close()


@pytest.mark.backends("sqlite")
async def test_a_dropped_socket_resumes_after_its_last_event_and_loses_no_sms(
    web: Api, browser: Any
) -> None:
    user = await web.funded_user("5.00")
    page = await signed_in_page(browser, user.token)
    sockets: list[Any] = []
    sms: list[tuple[int, str]] = []  # (connection number, text) of each SMS the server sent
    refuse = asyncio.Event()  # set: the "network" is down, connections are cut at once

    async def route(ws: Any) -> None:
        if refuse.is_set():
            await ws.close(code=3000, reason="network down")
            return
        server = ws.connect_to_server()
        number = len(sockets)

        def to_page(message: str | bytes) -> None:
            data = (json.loads(message).get("payload") or {}).get("data") or {}
            event = data.get("activationEvents")
            if event and event["sms"]:
                sms.append((number, event["sms"]["text"]))
            ws.send(message)

        server.on_message(to_page)
        sockets.append((ws, server))

    await page.route_web_socket(re.compile(r".*/graphql$"), route)
    await page.goto(web.server.url + "/")
    await live(page)
    activation = await web.bought(user)
    await page.goto(f"{web.server.url}/activations/{activation['id']}")
    await live(page)
    phone = activation["phoneNumber"]
    assert (await web.deliver_sms(phone, "Telegram code: 11111")).json()["status"] == "delivered"
    await page.get_by_test_id("code").filter(has_text="11111").wait_for(timeout=LIVE)
    for _ in range(200):  # the code may show from the first read: wait for its live event too
        if any("11111" in text for _, text in sms):
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the page received no live event of the first SMS")
    await page.get_by_role("button", name="Another SMS").click()

    refuse.set()  # the network drops; the second SMS arrives meanwhile
    first_after_drop = len(sockets)
    for ws, server in sockets:
        await server.close()
        await ws.close(code=3000, reason="network down")
    await page.get_by_test_id("socket-state").filter(has_text="Reconnecting").wait_for(timeout=LIVE)
    assert (await web.deliver_sms(phone, "Telegram code: 22222")).json()["status"] == "delivered"
    await asyncio.sleep(0.5)
    refuse.clear()  # back: the client reconnects and asks for what it missed

    # the client retries with a growing pause (at most 4 s): allow it two of them
    await page.get_by_test_id("messages").filter(has_text="22222").wait_for(timeout=2 * LIVE)
    # Resumed from the cursor of its last event: the server sent what was missed (the second
    # SMS), not the whole history again (a subscription without `after` replays every SMS).
    after_drop = [text for number, text in sms if number >= first_after_drop]
    assert any("22222" in text for text in after_drop), sms
    assert not any("11111" in text for text in after_drop), sms
    assert (await page.get_by_test_id("messages").inner_text()).count("11111") == 1  # not doubled
    await page.context.close()


@pytest.mark.backends("sqlite")
async def test_an_admin_blocks_a_user_whose_open_page_is_signed_out(web: Api, browser: Any) -> None:
    user = await web.funded_user("3.00")
    await web.bought(user)
    user_page = await signed_in_page(browser, user.token)
    await user_page.goto(web.server.url + "/history")
    await user_page.get_by_test_id("activations").get_by_role("link").first.wait_for()
    await screenshot(user_page, "history")
    await user_page.get_by_role("link", name="Account").click()
    await user_page.get_by_label("New key's name").fill("my bot")
    await user_page.get_by_role("button", name="Create API key").click()
    assert (await user_page.get_by_test_id("api-key").inner_text()).startswith("srk_")
    await screenshot(user_page, "account")
    await live(user_page)

    admin = (await web.login(ADMIN_EMAIL, ADMIN_PASSWORD))["token"]
    console = await signed_in_page(browser, admin)
    blocked = csp_violations(console)  # uPlot styles its canvas: through the CSSOM, allowed
    await console.goto(web.server.url + "/admin/stats")
    await console.locator(".chart canvas").first.wait_for(timeout=LIVE)
    await screenshot(console, "console-figures")
    await console.get_by_role("link", name="Users").click()
    await console.get_by_label("Email contains").fill(user.email)
    await console.get_by_role("button", name="Search").click()
    await console.get_by_role("button", name=f"Manage {user.email}").click()
    await console.get_by_label("Reason (kept in the user's activity log)").fill("fraud")
    await screenshot(console, "console-users")
    await console.get_by_role("button", name="Block", exact=True).click()

    assert blocked == []
    await user_page.get_by_test_id("signed-out").wait_for(timeout=LIVE)
    assert await user_page.get_by_test_id("balance").count() == 0
    await console.context.close()
    await user_page.context.close()
