"""Users, their credentials (session tokens and API keys) and the activity log (R12, R13, R16)."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


class UserState(StrEnum):
    ACTIVE = "active"
    RESTRICTED = "restricted"
    BLOCKED = "blocked"
    DELETED = "deleted"


class User(Model):
    id = fields.IntField(primary_key=True)
    # Stored lower-cased: emails are unique case-insensitively.
    email = fields.CharField(max_length=254, unique=True)
    password_hash = fields.CharField(max_length=200)
    role = fields.CharEnumField(Role, max_length=10, default=Role.USER)
    state = fields.CharEnumField(UserState, max_length=12, default=UserState.ACTIVE)
    email_verified_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(null=True)
    # R5: buying is refused until then after too many cancellations without a code.
    cooldown_until = fields.DatetimeField(null=True)
    # R5: repeat offenders are flagged for an admin.
    flagged_at = fields.DatetimeField(null=True)

    class Meta:
        table = "user"


class CredentialKind(StrEnum):
    SESSION = "session"
    API_KEY = "api_key"


class Credential(Model):
    # A bearer secret. Only its SHA-256 is stored; the secret itself is shown once.

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="credentials", on_delete=fields.RESTRICT
    )
    user_id: int
    kind = fields.CharEnumField(CredentialKind, max_length=10)
    name = fields.CharField(max_length=200, default="")
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "credential"


class EmailToken(Model):
    # An email verification link's secret, stored as its SHA-256.

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="email_tokens", on_delete=fields.RESTRICT
    )
    user_id: int
    token_hash = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "email_token"


class ActivityLog(Model):
    # R16: who did what, when, from which IP. Nothing else personal is stored.

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="activity", null=True, on_delete=fields.RESTRICT
    )
    user_id: int | None
    # For admin actions: the admin who acted (`user` is then the user acted upon, if any).
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="actions", null=True, on_delete=fields.RESTRICT
    )
    actor_id: int | None
    action = fields.CharField(max_length=40)
    ip = fields.CharField(max_length=45, null=True)
    detail = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "activity_log"


class ShopSetting(Model):
    # Switches an operator turns at run time, which every process must see (maintenance, R14):
    # in the database, not in a process's memory. `value` is JSON.

    key = fields.CharField(max_length=40, primary_key=True)
    value = fields.TextField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "shop_setting"
