"""`smsrooms serve` in production (DEMO_SUPPLIER=off), as a process of its own (issue 10, items
5, 8 and 12): a whole session of sign-up, sign-in, API key, compatible API and verification,
with the careless requests that used to put secrets into uvicorn's access log, leaves no
password, token, key or verification link anywhere in the process's log, and no raw control
character; every line is JSON. The served process also refuses an oversized websocket message
at the transport (close 1009), and believes X-Forwarded-For only from FORWARDED_ALLOW_IPS.

Nothing here depends on the backend pair: the SQLite pair only.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from testkit.processes import ServeProcess
from tests.account_helpers import CREATE_KEY, LOGIN, REGISTER, VERIFY
from tests.smtp import Inbox
from web.ui import UI_DIR

UI_BUILT = (UI_DIR / "index.html").exists()  # scripts/test builds it when Node.js is present

pytestmark = pytest.mark.backends("sqlite")

IRAN = "2.176.0.1"  # delegated to Iran (RIPE): R11 refuses sign-up from it
HANDLER = "/stubs/handler_api.php"


@dataclass
class Session:
    """A client of a served process, and every secret it was given or sent."""

    client: httpx.AsyncClient
    secrets: dict[str, str] = field(default_factory=dict)

    async def gql(
        self, query: str, variables: dict[str, Any], *, headers: dict[str, str] | None = None
    ) -> Any:
        body = {"query": query, "variables": variables}
        response = await self.client.post("/graphql", json=body, headers=headers or {})
        assert response.status_code == 200, response.text
        return response.json()["data"]


@asynccontextmanager
async def served(tmp_path: Path, **env: str) -> AsyncIterator[tuple[ServeProcess, Session]]:
    process = ServeProcess(
        {"DATABASE_URL": f"sqlite://{tmp_path / 'served.sqlite3'}", "DEMO_SUPPLIER": "off", **env}
    )
    async with process, httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        yield process, Session(client)


async def sign_up_and_in(session: Session, inbox: Inbox) -> None:
    """Sign-up (from a forwarded address the server must not believe), a GET mutation with
    the password in its URL, a wrong and a right password, an API key used in the URL and in
    the body, the verification link opened and sent both ways."""
    email = f"owner-{secrets.token_hex(4)}@example.com"
    password = session.secrets["password"] = f"pw-{secrets.token_hex(8)}"
    wrong = session.secrets["wrong password"] = f"wrong-{secrets.token_hex(8)}"
    signed_up = await session.gql(
        REGISTER, {"e": email, "p": password}, headers={"x-forwarded-for": IRAN}
    )
    assert signed_up["register"]["errors"] == []  # from 127.0.0.1: X-Forwarded-For ignored
    session.secrets["sign-up token"] = signed_up["register"]["token"]
    login_in_url = f'mutation {{ login(email: "{email}", password: "{password}") {{ token }} }}'
    assert (
        "token" not in (await session.client.get("/graphql", params={"query": login_in_url})).text
    )
    refused = await session.gql(LOGIN, {"e": email, "p": wrong})
    assert refused["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
    token = session.secrets["session token"] = (
        await session.gql(LOGIN, {"e": email, "p": password})
    )["login"]["token"]
    await use_an_api_key(session, token)
    await open_a_live_feed(session, token)
    mail = (await inbox.message(0)).get_payload(decode=True)
    assert isinstance(mail, bytes)
    link = re.search(r"https://shop\.example/verify-email\?token=([\w-]+)", mail.decode())
    assert link is not None
    verification = session.secrets["verification token"] = link.group(1)
    session.secrets["verification link"] = link.group(0)
    # The link opens the web app's page (503 with what to install when the UI is not built),
    # which then verifies through GraphQL: its GET verifies nothing, and its token reaches the
    # access log (redacted, checked below).
    page = await session.client.get(link.group(0).removeprefix("https://shop.example"))
    assert page.status_code == (200 if UI_BUILT else 503), page.text[:200]
    verify_in_url = {"query": VERIFY, "variables": json.dumps({"t": verification})}
    assert "emailVerified" not in (await session.client.get("/graphql", params=verify_in_url)).text
    assert (await session.gql(VERIFY, {"t": verification}))["verifyEmail"]["errors"] == []


async def use_an_api_key(session: Session, token: str) -> None:
    auth = {"authorization": f"Bearer {token}"}
    key = session.secrets["API key"] = (await session.gql(CREATE_KEY, {"n": "bot"}, headers=auth))[
        "createApiKey"
    ]["key"]
    query = {"api_key": key, "action": "getBalance"}
    assert (await session.client.get(HANDLER, params=query)).text == "ACCESS_BALANCE:0.00"
    assert (await session.client.post(HANDLER, data=query)).text == "ACCESS_BALANCE:0.00"


async def open_a_live_feed(session: Session, token: str) -> None:
    """Signed in over a websocket, by a client that also puts its token in the URL."""
    url = str(session.client.base_url).replace("http", "ws", 1) + f"/graphql?token={token}"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        await socket.send(json.dumps(init))
        assert json.loads(await socket.recv())["type"] == "connection_ack"


async def send_hostile_text(session: Session) -> None:
    """An email with a terminal escape sequence, a path with one and a bidi override."""
    refused = await session.gql(
        REGISTER, {"e": "x\x1b[2J\x1b[31mred@example.com", "p": "a long password"}
    )
    assert refused["register"]["errors"][0]["code"] == "INVALID_INPUT"
    assert (await session.client.get("/%1b%5b2J%e2%80%aeevil")).status_code == 404


async def test_no_secret_reaches_the_log_of_a_production_server(
    tmp_path: Path, smtp_server: tuple[str, Inbox]
) -> None:
    url, inbox = smtp_server
    admin_password = f"admin-{secrets.token_hex(8)}"
    metrics_token = f"metrics-{secrets.token_hex(8)}"
    async with served(
        tmp_path,
        SMTP_URL=url,
        PUBLIC_URL="https://shop.example",
        ADMIN_EMAIL="ops@example.com",
        ADMIN_PASSWORD=admin_password,
        METRICS_TOKEN=metrics_token,
    ) as (process, session):
        session.secrets |= {"admin password": admin_password, "metrics token": metrics_token}
        await sign_up_and_in(session, inbox)
        await send_hostile_text(session)
        metrics = await session.client.get(
            "/metrics", headers={"authorization": f"Bearer {metrics_token}"}
        )
        assert metrics.status_code == 200
    log = process.output
    for name, secret in session.secrets.items():
        assert secret not in log, f"the {name} is in the log"
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e]", log)
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    requests = [line for line in lines if line.get("event") == "request"]
    assert {"path": HANDLER, "query": "api_key=***&action=getBalance"} in [
        {"path": r["path"], "query": r["query"]} for r in requests
    ]
    assert all(r["client"] == "127.0.0.1" for r in requests)
    sockets = [line for line in lines if line.get("event") == "websocket"]
    assert [(s["path"], s["query"], s["status"]) for s in sockets] == [
        ("/graphql", "token=***", 101)
    ]


async def test_an_oversized_websocket_message_is_refused_by_the_transport(
    tmp_path: Path,
) -> None:
    """Past GRAPHQL_MAX_BODY_BYTES uvicorn closes with 1009 before the app reads a byte (its
    own default would read 16 MiB, even before sign-in; the app's own check closes with 4400).
    ACCESS_LOG=off: no access lines (the other tests show them on by default)."""
    limit = 1024
    async with served(tmp_path, GRAPHQL_MAX_BODY_BYTES=str(limit), ACCESS_LOG="off") as (
        process,
        _,
    ):
        url = process.url.replace("http", "ws", 1) + "/graphql"
        async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
            await socket.send(
                json.dumps({"type": "connection_init", "payload": {"pad": "x" * limit}})
            )
            with pytest.raises(ConnectionClosed) as closed:
                await socket.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009
    assert '"event": "SMS Rooms is up"' in process.output
    assert '"event": "request"' not in process.output
    assert '"event": "websocket"' not in process.output


async def test_forwarded_for_is_believed_only_from_forwarded_allow_ips(tmp_path: Path) -> None:
    """FORWARDED_ALLOW_IPS=127.0.0.1: the proxy's X-Forwarded-For is the client (here refused
    by R11); without it (the other tests) the same header from 127.0.0.1 changed nothing.
    LOG_FORMAT=console: lines for a person, not JSON."""
    async with served(tmp_path, FORWARDED_ALLOW_IPS="127.0.0.1", LOG_FORMAT="console") as (
        process,
        session,
    ):
        refused = await session.gql(
            REGISTER,
            {"e": "far@example.com", "p": "a long password"},
            headers={"x-forwarded-for": IRAN},
        )
    assert refused["register"]["errors"][0]["code"] == "COUNTRY_UNAVAILABLE"
    request_lines = [line for line in process.output.splitlines() if " request " in line]
    assert request_lines
    assert f"client={IRAN}" in "\n".join(request_lines)
    assert not request_lines[0].startswith("{")


async def test_each_request_line_carries_its_request_id(tmp_path: Path) -> None:
    """Every line a request logs has its request id: the caller's X-Request-ID when it is a
    plain token (echoed back), else a new one; a forged one is replaced."""
    async with served(tmp_path) as (process, session):
        given = await session.client.get("/healthz", headers={"x-request-id": "lb-0123456789"})
        made = await session.client.get("/healthz")
        forged = await session.client.get("/healthz", headers={"x-request-id": 'a"\\nfake'})
    assert given.headers["x-request-id"] == "lb-0123456789"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["x-request-id"])
    lines = [json.loads(line) for line in process.output.splitlines() if line.strip()]
    requests = [line for line in lines if line.get("event") == "request"]
    assert [r["request_id"] for r in requests if r["path"] == "/healthz"] == [
        r.headers["x-request-id"] for r in (given, made, forged)
    ]
