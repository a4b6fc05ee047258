"""R16: sign-in, purchase, cancel, ban and admin actions are logged with time and IP."""

from __future__ import annotations

from models import ActivityLog
from tests.api import Api


async def test_r16_actions_are_logged_with_the_client_ip(api: Api) -> None:
    user = await api.funded_user("2.00")  # sign_up, then the admin's adjustment
    await api.login(user.email, "correct horse 1", ip=user.ip)
    cancelled = await api.bought(user, "GB", "tg")
    await api.act(user, "cancelActivation", cancelled["id"])
    banned = await api.bought(user, "GB", "tg")
    await api.act(user, "banNumber", banned["id"])

    logged = (
        await ActivityLog.filter(user_id=user.id, actor_id=None)
        .order_by("id")
        .values_list("action", "ip")
    )
    assert logged == [
        ("sign_up", user.ip),
        ("sign_in", user.ip),  # the session opened by sign-up
        ("sign_in", user.ip),
        ("purchase", user.ip),
        ("cancelled", user.ip),
        ("purchase", user.ip),
        ("banned", user.ip),
    ]
    adjustments = await ActivityLog.filter(
        action="admin_adjust_balance", detail__startswith=f"user {user.id}:"
    )
    assert len(adjustments) == 1
    # An admin action is the user's entry (what was done to them) and names the admin.
    assert adjustments[0].user_id == user.id
    assert adjustments[0].actor_id is not None
