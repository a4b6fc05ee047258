"""`/stubs/handler_api.php`: the one endpoint of the sms-activate-compatible API.

Parameters come from the query string (GET and POST) and from an
application/x-www-form-urlencoded body (the body wins, as PHP's $_REQUEST has it); unknown ones
are ignored. Only an API key from createApiKey authenticates, and each key is rate-limited.
Every answer is HTTP 200 with a plain-text token or JSON: an unexpected error is logged and
answered `ERROR_SQL`, never with a traceback or an HTML page.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import structlog
from starlette.requests import Request
from starlette.responses import Response

from compat.actions import ACTIONS, CHANGING, Call
from compat.answers import Answer, render
from compat.errors import Refused, Token, token_for
from models import CredentialKind
from services import accounts, maintenance
from services.accounts import Viewer
from services.db import log_failure
from services.errors import AccountBlocked, ServiceError
from services.runtime import Runtime
from web.state import runtime_of

log = structlog.get_logger("compat")


async def compat_endpoint(request: Request) -> Response:
    action = None
    try:
        rt = runtime_of(request)
        params = await read_params(rt, request)
        action = params.get("action")
        answer = await _answer(rt, request, params)
    except Refused as refusal:
        answer = refusal.token
    except Exception as error:  # a bug, or the database away: a token the clients know (ADR 0003)
        known_action = action if action in ACTIONS else None
        log_failure(log, "compatible API request failed", error, action=known_action)
        answer = Token.ERROR_SQL
    return render(answer)


async def _answer(rt: Runtime, request: Request, params: dict[str, str]) -> Answer:
    try:
        viewer = await _api_key_owner(rt, params.get("api_key"))
        per_second = rt.settings.api_requests_per_second
        await rt.limiter.hit(f"{per_second}/second", f"compat:{viewer.credential_id}")
        name = params.get("action", "").strip()
        action = ACTIONS.get(name)
        if action is None:
            raise Refused(Token.BAD_ACTION)
        if name in CHANGING:
            await maintenance.refuse_during(rt, admin=viewer.is_admin)
        client = request.client.host if request.client else None
        return await action(Call(rt=rt, viewer=viewer, params=params, ip=client))
    except Refused as refusal:
        return refusal.token
    except ServiceError as error:
        return token_for(error)


async def _api_key_owner(rt: Runtime, secret: str | None) -> Viewer:
    """Only API keys: a session token is for the apps, and is refused here like a wrong key."""
    secret = secret.strip() if secret else None
    viewer = await accounts.authenticate(rt, secret)
    if viewer is None and await accounts.is_blocked_key(secret):
        raise AccountBlocked("this account is blocked")  # R14: BANNED, as compat.md says
    if viewer is None or viewer.credential_kind != CredentialKind.API_KEY:
        raise Refused(Token.BAD_KEY)
    return viewer


async def read_params(rt: Runtime, request: Request) -> dict[str, str]:
    """Query string, then the form body over it; for a repeated name the last one counts."""
    max_fields = rt.settings.compat_max_fields
    try:
        params = dict(parse_qsl(request.url.query, max_num_fields=max_fields))
        body = await _form_body(request, rt.settings.compat_max_body_bytes)
        params.update(parse_qsl(body, max_num_fields=max_fields))
    except ValueError:  # too many fields
        raise Refused(Token.ERROR_SQL) from None
    return params


async def _form_body(request: Request, max_bytes: int) -> str:
    if request.method != "POST":
        return ""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        return ""  # an empty body, or one we do not read: the query string has the parameters
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise Refused(Token.ERROR_SQL)
    return body.decode("utf-8", errors="replace")
