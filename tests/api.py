"""A small client of the public interfaces, for tests: GraphQL over HTTP and the SMS webhook."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from suppliers.signature import sign

if TYPE_CHECKING:
    from tests.conftest import Server
    from web.state import AppRuntime


@dataclass
class User:
    id: int
    email: str
    token: str
    ip: str


def random_ip() -> str:
    """A TEST-NET-3 address (RFC 5737), sent as X-Forwarded-For (the test servers trust
    127.0.0.1: FORWARDED_ALLOW_IPS)."""
    return f"203.0.113.{secrets.randbelow(254) + 1}"


class GraphQLFailure(AssertionError):
    pass


class Api:
    def __init__(self, client: httpx.AsyncClient, server: Server) -> None:
        self.client = client
        self.server = server

    @property
    def rt(self) -> AppRuntime:
        """The runtime of the server under test (its clock, settings, caches)."""
        return self.server.runtime

    # -- GraphQL --------------------------------------------------------------------------
    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        ip: str | None = None,
    ) -> dict[str, Any]:
        """The whole JSON answer (data and errors) of one GraphQL request."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        if ip:
            headers["x-forwarded-for"] = ip
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def gql(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        """`data` of a request that must not fail at the top level."""
        answer = await self.post(query, variables, **kw)
        if answer.get("errors"):
            raise GraphQLFailure(json.dumps(answer["errors"]))
        return answer["data"]

    # -- accounts -------------------------------------------------------------------------
    async def register(self, email: str | None = None, password: str = "correct horse 1") -> User:
        email = email or f"user-{uuid.uuid4().hex[:12]}@example.com"
        ip = random_ip()
        data = await self.gql(
            "mutation($e: String!, $p: String!) { register(email: $e, password: $p) "
            "{ token viewer { id } errors { code message field } } }",
            {"e": email, "p": password},
            ip=ip,
        )
        payload = data["register"]
        assert payload["errors"] == [], payload
        return User(int(payload["viewer"]["id"]), email.lower(), payload["token"], ip)

    async def login(self, email: str, password: str, *, ip: str | None = None) -> dict[str, Any]:
        data = await self.gql(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) "
            "{ token viewer { id email role } errors { code message field } } }",
            {"e": email, "p": password},
            ip=ip or random_ip(),
        )
        return data["login"]  # type: ignore[no-any-return]

    _admin_tokens: dict[str, str] = {}  # one admin session per server: logins are rate-limited

    async def admin_token(self) -> str:
        from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

        if self.server.url not in self._admin_tokens:
            payload = await self.login(ADMIN_EMAIL, ADMIN_PASSWORD)
            assert payload["errors"] == [], payload
            self._admin_tokens[self.server.url] = payload["token"]
        return self._admin_tokens[self.server.url]

    async def fund(self, user: User, amount: str, reason: str = "test top-up") -> None:
        data = await self.gql(
            "mutation($u: ID!, $a: Decimal!, $r: String!) { adjustBalance(userId: $u, amount: $a,"
            " reason: $r) { viewer { id } errors { code message } } }",
            {"u": str(user.id), "a": amount, "r": reason},
            token=await self.admin_token(),
        )
        assert data["adjustBalance"]["errors"] == [], data

    async def funded_user(self, amount: str = "10.00") -> User:
        user = await self.register()
        await self.fund(user, amount)
        return user

    async def balance(self, user: User) -> str:
        data = await self.gql("{ me { balance { amount } } }", token=user.token)
        return data["me"]["balance"]["amount"]  # type: ignore[no-any-return]

    # -- activations ----------------------------------------------------------------------
    ACTIVATION = (
        "id phoneNumber status refunded code price { amount currency } "
        "country { code } service { code } smsDeadline expiresAt createdAt "
        "messages { id sender text code receivedAt }"
    )

    async def buy(
        self, user: User, country: str = "GB", service: str = "tg", **extra: Any
    ) -> dict[str, Any]:
        """The buyNumber payload (activation and errors)."""
        args = {"country": country, "service": service, **extra}
        data = await self.gql(
            "mutation($country: String!, $service: String!, $maxPrice: Decimal, $key: String) {"
            " buyNumber(country: $country, service: $service, maxPrice: $maxPrice,"
            f" idempotencyKey: $key) {{ activation {{ {self.ACTIVATION} }}"
            " errors { code message field } } }",
            {
                "country": args["country"],
                "service": args["service"],
                "maxPrice": args.get("maxPrice"),
                "key": args.get("idempotencyKey"),
            },
            token=user.token,
            ip=user.ip,
        )
        return data["buyNumber"]  # type: ignore[no-any-return]

    async def bought(self, user: User, country: str = "GB", service: str = "tg") -> dict[str, Any]:
        payload = await self.buy(user, country, service)
        assert payload["errors"] == [], payload
        return payload["activation"]  # type: ignore[no-any-return]

    async def act(self, user: User, mutation: str, activation_id: str) -> dict[str, Any]:
        """cancelActivation / banNumber / finishActivation / requestAnotherSms payload."""
        data = await self.gql(
            f"mutation($id: ID!) {{ {mutation}(id: $id) {{ activation {{ {self.ACTIVATION} }}"
            " errors { code message field } } }",
            {"id": activation_id},
            token=user.token,
            ip=user.ip,
        )
        return data[mutation]  # type: ignore[no-any-return]

    async def activation(self, user: User, activation_id: str) -> dict[str, Any] | None:
        data = await self.gql(
            f"query($id: ID!) {{ activation(id: $id) {{ {self.ACTIVATION} }} }}",
            {"id": activation_id},
            token=user.token,
        )
        return data["activation"]  # type: ignore[no-any-return]

    # -- the supplier webhook -------------------------------------------------------------
    async def deliver_sms(
        self,
        to: str,
        text: str,
        sender: str | None = "Telegram",
        *,
        message_id: str | None = None,
        supplier: str = "demo",
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> httpx.Response:
        body = json.dumps(
            {"id": message_id or f"msg-{uuid.uuid4()}", "to": to, "from": sender, "text": text}
        ).encode()
        return await self.send_webhook(body, supplier=supplier, secret=secret, timestamp=timestamp)

    async def send_webhook(
        self,
        body: bytes,
        *,
        supplier: str = "demo",
        secret: str | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> httpx.Response:
        secret = secret or self.server.settings.demo_supplier_secret
        header = (
            signature
            if signature is not None
            else sign(secret, body, timestamp or int(time.time()))
        )
        return await self.client.post(
            f"/suppliers/{supplier}/sms",
            content=body,
            headers={"content-type": "application/json", "x-signature": header},
        )
