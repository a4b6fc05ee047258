"""register, login, logout, verifyEmail, createApiKey, credentials, revokeCredential, me,
deleteAccount."""

from __future__ import annotations

import strawberry

from resolvers.context import Context
from resolvers.errors import payload
from schema.accounts import (
    ApiKeyPayload,
    AuthPayload,
    Credential,
    CredentialKind,
    RevokePayload,
    Viewer,
    ViewerPayload,
)
from schema.admin import DeleteAccountPayload
from services import accounts, deactivation
from services.ids import parse_id


async def me(info: strawberry.Info[Context]) -> Viewer | None:
    viewer = await info.context.viewer()
    return Viewer.from_identity(viewer) if viewer else None


async def register(info: strawberry.Info[Context], email: str, password: str) -> AuthPayload:
    async def call() -> AuthPayload:
        rt, ip = info.context.runtime, info.context.client_ip
        token, user = await accounts.register(rt, email, password, ip=ip)
        return AuthPayload(token=token, viewer=Viewer.from_user(user), errors=[])

    return await payload(call, lambda errors: AuthPayload(token=None, viewer=None, errors=errors))


async def login(info: strawberry.Info[Context], email: str, password: str) -> AuthPayload:
    async def call() -> AuthPayload:
        rt, ip = info.context.runtime, info.context.client_ip
        token, user = await accounts.login(rt, email, password, ip=ip)
        return AuthPayload(token=token, viewer=Viewer.from_user(user), errors=[])

    return await payload(call, lambda errors: AuthPayload(token=None, viewer=None, errors=errors))


async def verify_email(info: strawberry.Info[Context], token: str) -> ViewerPayload:
    async def call() -> ViewerPayload:
        user = await accounts.verify_email(info.context.runtime, token)
        return ViewerPayload(viewer=Viewer.from_user(user), errors=[])

    return await payload(call, lambda errors: ViewerPayload(viewer=None, errors=errors))


async def logout(info: strawberry.Info[Context]) -> bool:
    viewer = await info.context.require_viewer()
    await accounts.revoke(info.context.runtime, viewer, viewer.credential_id)
    return True


async def create_api_key(info: strawberry.Info[Context], name: str) -> ApiKeyPayload:
    viewer = await info.context.require_viewer()

    async def call() -> ApiKeyPayload:
        rt, ip = info.context.runtime, info.context.client_ip
        key = await accounts.create_api_key(rt, viewer, name, ip=ip)
        return ApiKeyPayload(key=key, errors=[])

    return await payload(call, lambda errors: ApiKeyPayload(key=None, errors=errors))


async def credentials(info: strawberry.Info[Context]) -> list[Credential]:
    viewer = await info.context.require_viewer()
    return [
        Credential(
            id=strawberry.ID(str(c.id)),
            kind=CredentialKind(c.kind.value),
            name=c.name,
            created_at=c.created_at,
            expires_at=c.expires_at,
            last_used_at=c.last_used_at,
            current=c.id == viewer.credential_id,
        )
        for c in await accounts.list_credentials(info.context.runtime, viewer)
    ]


async def revoke_credential(info: strawberry.Info[Context], id: strawberry.ID) -> RevokePayload:  # noqa: A002
    viewer = await info.context.require_viewer()

    async def call() -> RevokePayload:
        credential_id = parse_id(id, what="credential", field="id")
        await accounts.revoke(info.context.runtime, viewer, credential_id)
        return RevokePayload(revoked=True, errors=[])

    return await payload(call, lambda errors: RevokePayload(revoked=False, errors=errors))


async def delete_account(info: strawberry.Info[Context], password: str) -> DeleteAccountPayload:
    viewer = await info.context.require_viewer()

    async def call() -> DeleteAccountPayload:
        await deactivation.delete_own(info.context.runtime, viewer, password)
        return DeleteAccountPayload(deleted=True, errors=[])

    return await payload(call, lambda errors: DeleteAccountPayload(deleted=False, errors=errors))
