"""One POST to a user's webhook (services/webhook_http.py, issue 13 item 4): what is sent, and
what is refused of the answer: no redirect followed, no cookie kept, only an excerpt read."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from services import webhook_addresses, webhook_http
from settings import Settings
from tests.serving import served

LOCAL = Settings(webhooks_allow_private=True)


class Receiver:
    """Notes every request it gets: (path, headers, body)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.app = Starlette(
            routes=[
                Route("/hook", self.hook, methods=["POST"]),
                Route("/moved", self.moved, methods=["POST"]),
                Route("/big", self.big, methods=["POST"]),
                Route("/cookie", self.cookie, methods=["POST"]),
            ]
        )

    async def _note(self, request: Request) -> None:
        self.requests.append((request.url.path, dict(request.headers), await request.body()))

    async def hook(self, request: Request) -> Response:
        await self._note(request)
        return PlainTextResponse("ok")

    async def moved(self, request: Request) -> Response:
        await self._note(request)
        return RedirectResponse("/hook", status_code=307)

    async def big(self, request: Request) -> Response:
        await self._note(request)
        return PlainTextResponse("é" * 500_000)  # 1 MB

    async def cookie(self, request: Request) -> Response:
        await self._note(request)
        response = PlainTextResponse("ok")
        response.set_cookie("session", "from-the-receiver")
        return response


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, int]]:
    made = Receiver()
    async with served(made.app) as (base, _):
        yield made, int(base.rsplit(":", 1)[1])


async def post(
    url: str, body: bytes = b"{}", headers: dict[str, str] | None = None
) -> webhook_http.Answer:
    async with webhook_http.clients(LOCAL) as clients:
        return await webhook_http.post(LOCAL, clients, url, body, headers or {})


async def test_the_body_and_headers_arrive_as_given_with_the_urls_host(
    receiver: tuple[Receiver, int],
) -> None:
    got, port = receiver
    body = '{"text": "код 12345"}'.encode()
    answer = await post(
        f"http://localhost:{port}/hook", body, {"x-signature": "t=1,v1=ab", "idempotency-key": "k"}
    )
    assert (answer.status_code, answer.excerpt, answer.ok) == (200, "ok", True)
    [(path, headers, received)] = got.requests
    assert (path, received) == ("/hook", body)
    assert headers["host"] == f"localhost:{port}"  # the name, though the address was dialled
    assert (headers["x-signature"], headers["idempotency-key"]) == ("t=1,v1=ab", "k")
    assert "accept-encoding" not in headers  # the excerpt is read as it comes, never inflated


async def test_a_redirect_is_answered_not_followed(receiver: tuple[Receiver, int]) -> None:
    got, port = receiver
    answer = await post(f"http://127.0.0.1:{port}/moved")
    assert (answer.status_code, answer.ok) == (307, False)
    assert [path for path, _, _ in got.requests] == ["/moved"]  # /hook was never asked


async def test_only_an_excerpt_of_a_large_answer_is_read(receiver: tuple[Receiver, int]) -> None:
    _, port = receiver
    answer = await post(f"http://127.0.0.1:{port}/big")
    assert answer.status_code == 200
    assert answer.excerpt == "é" * (webhook_http.EXCERPT_BYTES // 2)


async def test_a_cookie_set_by_a_receiver_is_never_sent_back(
    receiver: tuple[Receiver, int],
) -> None:
    got, port = receiver
    async with webhook_http.clients(LOCAL) as clients:
        for _ in range(2):
            answer = await webhook_http.post(
                LOCAL, clients, f"http://127.0.0.1:{port}/cookie", b"{}", {}
            )
            assert answer.ok
    assert [headers.get("cookie") for _, headers, _ in got.requests] == [None, None]


async def test_a_private_address_is_refused_before_connecting(
    receiver: tuple[Receiver, int],
) -> None:
    got, port = receiver
    strict = Settings(webhooks_allow_private=False)
    async with webhook_http.clients(strict) as clients:
        with pytest.raises(webhook_addresses.AddressRefused, match="non-public address"):
            await webhook_http.post(strict, clients, f"http://127.0.0.1:{port}/hook", b"{}", {})
    assert got.requests == []
