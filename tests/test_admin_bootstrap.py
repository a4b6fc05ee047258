"""ADMIN_EMAIL naming an existing account: it becomes the admin, and no old session survives."""

from __future__ import annotations

from services import accounts
from tests.api import Api


async def test_promoting_an_existing_account_revokes_its_credentials(api: Api) -> None:
    squatter = await api.register()  # anyone may have registered the address first
    assert (await api.gql("{ me { role } }", token=squatter.token))["me"] == {"role": "USER"}

    await accounts.ensure_admin(api.rt, squatter.email, "the operator's password")  # as at start-up

    assert (await api.gql("{ me { role } }", token=squatter.token))["me"] is None
    signed_in = await api.login(squatter.email, "the operator's password")
    assert signed_in["viewer"]["role"] == "ADMIN"
