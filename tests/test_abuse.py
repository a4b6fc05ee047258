"""R5: cancelling without codes again and again pauses buying; repeat offenders are flagged."""

from __future__ import annotations

from collections.abc import Callable

from models import Activation, User
from services import ledger
from settings import Settings
from tests.api import Api
from tests.api import User as ApiUser


async def cancel_many(api: Api, user: ApiUser, count: int) -> None:
    for _ in range(count):
        activation = await api.bought(user, "ID", "ds")
        assert (await api.act(user, "cancelActivation", activation["id"]))["errors"] == []


async def test_r5_too_many_cancellations_pause_buying(
    api: Api, override_settings: Callable[..., Settings]
) -> None:
    settings = override_settings(abuse_cancel_threshold=3, abuse_cooldown_seconds=600)
    user = await api.funded_user("5.00")
    await cancel_many(api, user, 3)
    balance, rows = (
        await ledger.balance_minor(user.id),
        await Activation.filter(user_id=user.id).count(),
    )

    refused = await api.buy(user, "ID", "ds")
    assert [e["code"] for e in refused["errors"]] == ["RATE_LIMITED"]
    assert refused["activation"] is None
    assert await ledger.balance_minor(user.id) == balance
    assert await Activation.filter(user_id=user.id).count() == rows
    record = await User.get(id=user.id)
    assert record.cooldown_until is not None
    assert record.flagged_at is None

    api.rt.clock.advance(settings.abuse_window_seconds + 1)  # the cool-down and the window are over
    assert (await api.buy(user, "ID", "ds"))["errors"] == []


async def test_r5_codes_received_keep_the_account_in_good_standing(
    api: Api, override_settings: Callable[..., Settings]
) -> None:
    override_settings(abuse_cancel_threshold=3)
    user = await api.funded_user("5.00")
    for _ in range(3):  # three activations that got their code: over 20 % success
        activation = await api.bought(user, "ID", "ds")
        await api.deliver_sms(
            activation["phoneNumber"], "Your Discord verification code is: 123456", sender="Discord"
        )
    await cancel_many(api, user, 3)
    assert (await api.buy(user, "ID", "ds"))["errors"] == []


async def test_r5_a_second_cooldown_flags_the_user_for_an_admin(
    api: Api, override_settings: Callable[..., Settings]
) -> None:
    settings = override_settings(abuse_cancel_threshold=2, abuse_cooldown_seconds=60)
    user = await api.funded_user("5.00")
    await cancel_many(api, user, 2)
    assert [e["code"] for e in (await api.buy(user, "ID", "ds"))["errors"]] == ["RATE_LIMITED"]
    api.rt.clock.advance(settings.abuse_window_seconds + 1)
    await cancel_many(api, user, 2)
    assert [e["code"] for e in (await api.buy(user, "ID", "ds"))["errors"]] == ["RATE_LIMITED"]
    assert (await User.get(id=user.id)).flagged_at is not None


async def test_r5_bans_count_like_cancellations(
    api: Api, override_settings: Callable[..., Settings]
) -> None:
    """A ban refunds in full too: a buy-and-ban loop must not drain the pool for free."""
    override_settings(abuse_cancel_threshold=3)
    user = await api.funded_user("5.00")
    for _ in range(3):
        activation = await api.bought(user, "ID", "ds")
        assert (await api.act(user, "banNumber", activation["id"]))["errors"] == []
    assert [e["code"] for e in (await api.buy(user, "ID", "ds"))["errors"]] == ["RATE_LIMITED"]
