"""Accounts and credentials: sign-up, sign-in, tokens, API keys, email verification (R12, R13).

Secrets (session tokens, API keys, email links) are 256-bit random strings shown once; only
their SHA-256 is stored, which is enough for secrets of that entropy and keeps look-ups to one
indexed query. Passwords are argon2id hashes, computed in a worker thread.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from models import Credential, CredentialKind, EmailToken, Role, User, UserState
from services import activity, geo, hooks, joined, ledger, maintenance, text
from services.db import IntegrityError, atomic, fetch_row
from services.errors import (
    AccountBlocked,
    EmailTaken,
    Forbidden,
    InvalidCredentials,
    InvalidInput,
    InvalidToken,
    NotFound,
)
from services.ratelimit import Limit

if TYPE_CHECKING:
    from services.runtime import Runtime
    from settings import Settings

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters
# A syntactic check only: the verification email proves the address (R12).
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
USAGE_RESOLUTION = timedelta(hours=1)
SESSION_PREFIX = "srs_"
API_KEY_PREFIX = "srk_"


@functools.cache
def _dummy_hash() -> str:
    """A real hash of a random password: verifying against it costs what a real check costs, so
    a login for an unknown email takes as long as one for a known email (no user enumeration).
    Made at the first such login, not at import, which every command and test process paid."""
    return _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Viewer:
    """Who a request is made by: the result of authenticating its bearer secret."""

    user_id: int
    email: str
    role: Role
    credential_id: int
    credential_kind: CredentialKind
    created_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalize_email(email: str) -> str:
    email = text.normalized(email).lower()
    if len(email) > 254 or text.has_hidden_characters(email) or not _EMAIL.match(email):
        raise InvalidInput("not a valid email address", field="email")
    return email


def _check_password(settings: Settings, password: str) -> None:
    text.refuse_hidden_characters(password, field="password")
    if not settings.password_min_length <= len(password) <= settings.password_max_length:
        raise InvalidInput(
            f"the password needs {settings.password_min_length} to "
            f"{settings.password_max_length} characters",
            field="password",
        )


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def password_matches(password_hash: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(_hasher.verify, password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def register(rt: Runtime, email: str, password: str, *, ip: str | None) -> tuple[str, User]:
    """Creates the account and its ledger accounts, sends the verification link, signs in."""
    settings = rt.settings
    email = normalize_email(email)
    _check_password(settings, password)
    geo.refuse_sanctioned(ip)
    await rt.limiter.hit(f"{settings.register_attempts_per_hour}/hour", f"register:{ip}")
    return await open_account(rt, email, await hash_password(password), ip=ip)


async def open_account(
    rt: Runtime, email: str, password_hash: str, *, ip: str | None
) -> tuple[str, User]:
    """The account of an email and an already hashed password: the user, its ledger accounts,
    the verification link and a first session. `register` is its caller in the app;
    the benchmarks' factory (testkit/factory.py) opens thousands with one hash computed once,
    since argon2 is slow on purpose."""
    email = normalize_email(email)
    try:
        async with atomic() as conn:
            user = await User.create(email=email, password_hash=password_hash, using_db=conn)
            await ledger.open_user_accounts(user, conn)
            await activity.record(conn, "sign_up", user_id=user.id, ip=ip)
    except IntegrityError:
        raise EmailTaken("an account with this email exists", field="email") from None
    await send_verification(rt, user)
    return await _open_session(rt, user, ip), user


async def login(rt: Runtime, email: str, password: str, *, ip: str | None) -> tuple[str, User]:
    # As sign-up has it, unchecked: an address that is not valid matches no account.
    email = text.normalized(email[:1000]).lower()[:254]
    limits = _login_limits(rt.settings, email, ip)
    await rt.limiter.check(limits)
    user = await User.get_or_none(email=email)
    stored_hash = user.password_hash if user else await asyncio.to_thread(_dummy_hash)
    valid = await password_matches(stored_hash, password)
    if user is None or not valid or user.state == UserState.DELETED:
        await rt.limiter.count(limits)
        raise InvalidCredentials("wrong email or password")
    if user.state == UserState.BLOCKED:
        raise AccountBlocked("this account is blocked")
    # R14: signing in stays open during maintenance for admins only (who must turn it off).
    await maintenance.refuse_during(rt, admin=user.role == Role.ADMIN)
    return await _open_session(rt, user, ip), user


def _login_limits(settings: Settings, email: str, ip: str | None) -> list[Limit]:
    """R13: only failures count. Per (email, IP) is the tight one; per IP bounds one address
    trying many emails; per email is a ceiling above what one address can reach, so that only
    many addresses together, not a stranger, can close an account's sign-in for a while.
    (Concurrent failures may each pass the check before any is counted: argon2's cost bounds
    how many.)"""
    return [
        (f"{settings.login_attempts_per_minute}/minute", f"login:email-ip:{email}|{ip}"),
        (f"{settings.login_ip_attempts_per_minute}/minute", f"login:ip:{ip}"),
        (f"{settings.login_email_attempts_per_hour}/hour", f"login:email:{email}"),
    ]


async def _open_session(rt: Runtime, user: User, ip: str | None) -> str:
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    expires = rt.clock.now() + timedelta(days=rt.settings.session_token_days)
    async with atomic() as conn:
        await Credential.create(
            user=user,
            kind=CredentialKind.SESSION,
            token_hash=hash_secret(token),
            expires_at=expires,
            using_db=conn,
        )
        await User.filter(id=user.id).using_db(conn).update(last_seen_at=rt.clock.now())
        await activity.record(conn, "sign_in", user_id=user.id, ip=ip)
    return token


async def authenticate(rt: Runtime, secret: str | None) -> Viewer | None:
    """The viewer a bearer secret (session token or API key) belongs to, or None."""
    if not secret or len(secret) > 200:
        return None
    token_hash = hash_secret(secret)
    viewer = rt.identities.get(token_hash)
    if viewer is None:
        viewer = await _load_viewer(rt, token_hash)
        if viewer is not None:
            rt.identities.put(token_hash, viewer)
    return viewer


_CREDENTIAL_TABLES: joined.Tables = {"c": Credential, "u": User}


@functools.cache
def _credential_statement() -> str:
    """An unrevoked credential by its secret's hash, with its user: one joined read written out
    once (services/joined.py; on first use, after tortoise's init), as each websocket's
    connection_init makes one."""
    return (
        f"SELECT {joined.select_list(_CREDENTIAL_TABLES)} "  # noqa: S608 (names from the models)
        f"FROM {joined.table(Credential)} c JOIN {joined.table(User)} u ON u.id = c.user_id "
        "WHERE c.token_hash = $1 AND c.revoked_at IS NULL"
    )


async def _load_viewer(rt: Runtime, token_hash: str) -> Viewer | None:
    row = await fetch_row(_credential_statement(), token_hash)
    if row is None:
        return None
    found = joined.objects(_CREDENTIAL_TABLES, row)
    credential, user = found["c"], found["u"]
    assert isinstance(credential, Credential)
    assert isinstance(user, User)
    now = rt.clock.now()
    if credential.expires_at is not None and credential.expires_at <= now:
        return None
    if user.state in (UserState.BLOCKED, UserState.DELETED):
        return None
    if credential.last_used_at is None or now - credential.last_used_at > USAGE_RESOLUTION:
        # R13 (spotting a leaked key) and R8 (inactivity) read these; written at most once per
        # USAGE_RESOLUTION so that authenticating stays a single read.
        await Credential.filter(id=credential.id).update(last_used_at=now)
        await User.filter(id=user.id).update(last_seen_at=now)
    return Viewer(
        user_id=user.id,
        email=user.email,
        role=user.role,
        credential_id=credential.id,
        credential_kind=credential.kind,
        created_at=user.created_at,
    )


async def revoke(rt: Runtime, viewer: Viewer, credential_id: int) -> None:
    """Revokes one of the viewer's own credentials (logout, a leaked API key: R13)."""
    changed = await Credential.filter(
        id=credential_id, user_id=viewer.user_id, revoked_at=None
    ).update(revoked_at=rt.clock.now())
    if changed != 1:
        raise NotFound("no such credential", field="id")
    rt.identities.clear()  # on any revocation; other processes clear theirs on the wake-up
    await hooks.run(rt.hooks.after_credential_revoked, credential_id)


async def is_blocked_key(secret: str | None) -> bool:
    """Whether this secret is an unrevoked API key of a blocked account (R14): the compatible
    API answers it BANNED rather than BAD_KEY. Asked only once authentication has failed."""
    if not secret or len(secret) > 200:
        return False
    return await Credential.filter(
        token_hash=hash_secret(secret),
        kind=CredentialKind.API_KEY,
        user__state=UserState.BLOCKED,
    ).exists()


async def invalid_credentials(rt: Runtime, credential_ids: list[int]) -> list[int]:
    """Which of these credentials no longer authenticate (revoked, expired, user blocked)."""
    now = rt.clock.now()
    rows = await Credential.filter(id__in=credential_ids).select_related("user")
    valid = {
        c.id
        for c in rows
        if c.revoked_at is None
        and (c.expires_at is None or c.expires_at > now)
        and c.user.state not in (UserState.BLOCKED, UserState.DELETED)
    }
    return [i for i in credential_ids if i not in valid]


async def list_credentials(rt: Runtime, viewer: Viewer) -> list[Credential]:
    """The viewer's credentials that still authenticate: not revoked, not expired."""
    now = rt.clock.now()
    rows = await Credential.filter(user_id=viewer.user_id, revoked_at=None).order_by("-id")
    return [c for c in rows if c.expires_at is None or c.expires_at > now]


async def create_api_key(rt: Runtime, viewer: Viewer, name: str, *, ip: str | None) -> str:
    name = text.readable(name, field="name", max_length=rt.settings.max_string_length)
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    async with atomic() as conn:
        await Credential.create(
            user_id=viewer.user_id,
            kind=CredentialKind.API_KEY,
            name=name,
            token_hash=hash_secret(key),
            using_db=conn,
        )
        await activity.record(conn, "create_api_key", user_id=viewer.user_id, ip=ip, detail=name)
    return key


async def send_verification(rt: Runtime, user: User) -> None:
    if user.email_verified_at is not None:
        return
    token = secrets.token_urlsafe(32)
    expires = rt.clock.now() + timedelta(hours=rt.settings.email_token_hours)
    await EmailToken.create(user=user, token_hash=hash_secret(token), expires_at=expires)
    link = f"{rt.settings.public_url}/verify-email?token={token}"
    rt.mailer.send_later(
        user.email,
        "Confirm your email for SMS Rooms",
        f"Open this link to confirm your email address:\n\n{link}\n\n"
        f"The token, for apps: {token}\n",
    )


async def verify_email(rt: Runtime, token: str) -> User:
    now = rt.clock.now()
    record = await EmailToken.filter(token_hash=hash_secret(token[:200])).first()
    if record is None or record.expires_at <= now:
        raise InvalidToken("this verification link is invalid or has expired", field="token")
    async with atomic() as conn:
        # Used once: the conditional update is the guard against a replayed link.
        if (
            not await EmailToken.filter(id=record.id, used_at=None)
            .using_db(conn)
            .update(used_at=now)
        ):
            raise InvalidToken("this verification link has already been used", field="token")
        await (
            User.filter(id=record.user_id, email_verified_at=None)
            .using_db(conn)
            .update(email_verified_at=now)
        )
    return await User.get(id=record.user_id)


async def is_email_verified(user_id: int) -> bool:
    return await User.filter(id=user_id, email_verified_at__isnull=False).exists()


def require_admin(viewer: Viewer) -> None:
    if not viewer.is_admin:
        raise Forbidden("only an admin may do this")


async def ensure_admin(rt: Runtime, email: str, password: str) -> User:
    """Makes sure this admin account exists with this password: ADMIN_EMAIL/ADMIN_PASSWORD at
    start-up, and the `create-admin` command."""
    email = normalize_email(email)
    _check_password(rt.settings, password)
    user = await User.get_or_none(email=email)
    if user is None:
        try:
            async with atomic() as conn:
                user = await User.create(
                    email=email,
                    password_hash=await hash_password(password),
                    role=Role.ADMIN,
                    email_verified_at=rt.clock.now(),
                    using_db=conn,
                )
                await ledger.open_user_accounts(user, conn)
            return user
        except IntegrityError:  # another process created it at the same moment
            user = await User.get(email=email)
    if not await password_matches(user.password_hash, password) or user.role != Role.ADMIN:
        # Whoever held this account before (it may have been registered by anyone) must not
        # keep a session that is now an admin's: every credential of it is revoked.
        async with atomic() as conn:
            await (
                User.filter(id=user.id)
                .using_db(conn)
                .update(
                    role=Role.ADMIN,
                    password_hash=await hash_password(password),
                    email_verified_at=user.email_verified_at or rt.clock.now(),
                )
            )
            await (
                Credential.filter(user_id=user.id, revoked_at=None)
                .using_db(conn)
                .update(revoked_at=rt.clock.now())
            )
        rt.identities.clear()
    return await User.get(id=user.id)
