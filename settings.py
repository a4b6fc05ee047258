"""Every setting of SMS Rooms, read once from the environment (and an optional `.env` file).

Each setting has a safe default for the embedded mode (SQLite, in-process bus, demo supplier).
`Settings` is frozen: nothing changes a setting after start-up. Limits that bound loops, pages,
queues and retries live here too, so that every bound has a name ("put a limit on everything").
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from starlette.config import Config


def _cast(raw: str, default: object, declared: object) -> object:
    """An environment string as the type of the setting (read from its default or annotation)."""
    kind = str(declared)
    if isinstance(default, bool) or kind.startswith("bool"):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, tuple):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if isinstance(default, int) or kind.startswith("int"):
        return int(raw)
    if isinstance(default, float) or kind.startswith("float"):
        return float(raw)
    return raw


@dataclass(frozen=True)
class Settings:
    # Relative to the working directory (the folder is made at start-up): an installed package
    # never writes into its own installation, and `scripts/serve` runs in the checkout.
    database_url: str = "sqlite://data/smsrooms.sqlite3"
    event_bus_url: str = "memory://"
    redis_url: str | None = None
    # Prefix of every Redis key and channel, so several deployments (or test runs) share a Redis.
    redis_prefix: str = "smsrooms:"
    admin_email: str | None = None
    admin_password: str | None = None
    demo_supplier: bool = True
    demo_supplier_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    demo_supplier_secret_generated: bool = True
    demo_auto_sms_seconds: float | None = None
    email_verification: str = "optional"  # "required" | "optional"
    smtp_url: str | None = None
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "SMS Rooms <no-reply@localhost>"
    public_url: str = "http://localhost:8000"
    allowed_origins: tuple[str, ...] = (
        "http://localhost:8000",
        "http://127.0.0.1:8000",  # the address `smsrooms serve` prints
        "http://localhost:3000",
    )

    # Business rules (RULES.md)
    sms_wait_seconds: int = 300  # R4
    activation_window_seconds: int = 1200  # R3
    currency: str = "USD"  # ISO 4217, two decimals (minor units are cents)
    abuse_window_seconds: int = 3600  # R5
    abuse_cancel_threshold: int = 10  # R5
    abuse_min_success_ratio: float = 0.2  # R5
    abuse_cooldown_seconds: int = 3600  # R5
    inactive_account_days: int = 270  # R8: accounts unused this long are deactivated

    # Security and limits
    # R13: failed sign-ins are limited per (email, IP), per IP, and per email over all IPs with a
    # ceiling no single address can reach (validate()), so a stranger cannot lock a user out.
    login_attempts_per_minute: int = 10  # per (email, IP)
    login_ip_attempts_per_minute: int = 30  # per IP, over every email
    login_email_attempts_per_hour: int = 1000  # per email, over every IP
    register_attempts_per_hour: int = 20  # per IP
    api_requests_per_second: int = 20  # per API key on the compatible API
    graphql_max_depth: int = 10
    graphql_max_aliases: int = 15
    graphql_max_tokens: int = 2000
    # Also the largest websocket message: `smsrooms serve` gives it to uvicorn (--ws-max-size),
    # which refuses a longer one (close 1009) before reading it whole.
    graphql_max_body_bytes: int = 64 * 1024
    graphql_document_cache_size: int = 512  # distinct query texts kept parsed and validated
    # Automatic persisted queries (web/apq.py): hashes known per process; 0 turns APQ off.
    graphql_apq_cache_entries: int = 1000
    # GraphiQL at GET /graphql: on by default with the demo supplier, off otherwise.
    graphiql: bool | None = None
    # Schema introspection (`__schema`, `__type`): on by default with the demo supplier, off
    # otherwise; the contract clients need is frontend-contract/schema.graphql, not the server.
    introspection: bool | None = None
    # GET /metrics: with a token, only with `Authorization: Bearer <token>`; without one, open
    # with the demo supplier and closed (404) otherwise, since it tells load and error rates.
    metrics_token: str | None = None
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto `smsrooms serve` believes (comma-separated
    # addresses or networks, `*` for any). None by default: the client IP used by R11 and the
    # rate limits is the peer's own, even from 127.0.0.1, until the operator names the proxy.
    forwarded_allow_ips: tuple[str, ...] = ()
    # Logging (web/logs.py, web/access_log.py): one line per HTTP request and websocket, with
    # secrets redacted; "json" or "console", by default json without the demo supplier.
    access_log: bool = True
    log_format: str | None = None
    compat_max_body_bytes: int = 16 * 1024  # a form body of a few parameters
    compat_max_fields: int = 100  # parameters per request, query string and body each
    max_page_size: int = 100
    max_string_length: int = 200
    max_adjustment_minor: int = 100_000_000  # 1,000,000.00 per adjustment
    max_price_minor: int = 100_000_000
    password_min_length: int = 8
    password_max_length: int = 256
    webhook_max_body_bytes: int = 16 * 1024
    # How far a supplier's clock may be off: its signature's timestamp, and a receivedAt ahead
    # of ours (kept as sent within it, clamped to now beyond it).
    webhook_tolerance_seconds: int = 300
    session_token_days: int = 30
    auth_cache_seconds: float = 10.0  # identities cached per process (services/identity_cache.py)
    auth_cache_entries: int = 10_000
    lock_timeout_ms: int = 5000  # PostgreSQL: the longest any statement waits for a lock
    email_token_hours: int = 48

    # Background work
    sweeper_interval_seconds: float = 1.0
    sweeper_batch_size: int = 200
    price_cache_seconds: float = 2.0  # also how long a price rule change takes to reach all
    # The period of the success rate shown beside each offer in `prices` (docs/adr/0011).
    offer_success_window_hours: int = 168
    # R14: how long a process trusts its copy of the maintenance switch (0: read it every time).
    maintenance_cache_seconds: float = 1.0
    # R8: how often a process looks for inactive accounts, and how many it deactivates per round.
    inactivity_check_interval_seconds: float = 3600.0
    inactivity_batch_size: int = 100
    catalog_response_cache_entries: int = 256  # encoded answers of public catalog queries
    buy_number_attempts: int = 5
    demo_pool_min_free: int = 5  # the demo supplier restocks a country below this many free numbers
    demo_pool_restock: int = 20
    demo_restock_interval_seconds: float = 10.0

    # Suppliers (issue 8; docs/adr/0009)
    # Fernet key(s) sealing suppliers' secrets at rest, comma-separated, newest first (the
    # others still open older seals: rotation). Without one, only the demo supplier can exist.
    secrets_key: tuple[str, ...] = ()
    supplier_acquire_timeout_seconds: float = 3.0  # one supplier's answer to "give a number"
    routing_max_candidates: int = 5  # suppliers asked per purchase before NO_NUMBERS
    supplier_failures_to_pause: int = 5  # errors or time-outs in a row that pause a supplier
    supplier_health_window: int = 200  # newest activations per supplier its health is measured on
    supplier_health_interval_seconds: float = 30.0  # how often the stored health is refreshed
    supplier_contact_write_seconds: float = 10.0  # last contact is written at most this often

    # Payments (R10, R15; docs/adr/0006). A processor is offered when its keys are set.
    demo_payments: bool = True  # the demo processor; follows DEMO_SUPPLIER unless set
    demo_payments_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    stripe_api_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None  # tests point the official library at a stand-in
    nowpayments_api_key: str | None = None
    nowpayments_ipn_secret: str | None = None
    nowpayments_api_base: str = "https://api.nowpayments.io/v1"
    top_up_min_minor: int = 100  # 1.00
    top_up_max_minor: int = 100_000  # 1,000.00
    top_up_expiry_seconds: int = 3600  # the checkout page's life (Stripe allows 30 min to 24 h)
    refund_fee_fixed_minor: int = 0  # R15: processor fees kept from a refund's payout
    refund_fee_basis_points: int = 0  # 1/100 of a percent of the refunded amount
    refund_requests_pending_max: int = 3  # per user
    refund_top_ups_considered: int = 20  # newest top-ups searched for one to refund a payout
    reconcile_batch_size: int = 50  # top-ups asked about per reconciliation report
    reconcile_min_age_seconds: int = 600  # younger pending top-ups are not yet suspicious
    payments_http_timeout_seconds: float = 10.0
    payments_webhook_max_body_bytes: int = 128 * 1024  # Stripe's events are larger than SMS

    # Event bus and subscriptions
    ws_init_timeout_seconds: float = 10.0  # a socket must send connection_init by then
    ws_max_subscriptions: int = 20  # operations per socket
    ws_keep_alive_seconds: float = 15.0  # legacy graphql-ws "ka" interval
    ws_credential_recheck_seconds: float = 30.0  # open sockets' credentials re-checked this often
    feed_batch_size: int = 100  # events read from the log per query of a live feed
    redis_reconnect_max_seconds: float = 2.0  # backoff cap while Redis is unreachable
    redis_ping_seconds: float = 1.0  # how often the bus checks its Redis connection
    redis_subscribe_confirm_seconds: float = 2.0
    redis_publish_retry_seconds: float = 30.0  # a failed publish is retried this long
    # Rate limits during a Redis outage (services/ratelimit.py): the longest a call waits on
    # Redis, and how long this process counts in its own memory before trying Redis again.
    rate_limit_redis_timeout_seconds: float = 0.5
    rate_limit_redis_retry_seconds: float = 5.0

    # Suppliers: the SMSHub agent protocol (suppliers/smshub/, contract/suppliers.md)
    smshub_get_number_deadline_seconds: float = 3.0  # the protocol's bound on GET_NUMBER
    smshub_call_deadline_seconds: float = 10.0  # GET_SERVICES and FINISH_ACTIVATION
    smshub_max_response_bytes: int = 2 * 1024 * 1024  # decoded; GET_SERVICES is the largest
    smshub_max_stock_lines: int = 50_000  # (country, operator, service) lines per GET_SERVICES
    smshub_max_connections: int = 100  # per process, to all agents together
    smshub_poll_min_seconds: float = 10.0  # GET_SERVICES per agent, at a random interval
    smshub_poll_max_seconds: float = 20.0  # between these two (jitter spreads the agents)

    # Suppliers: upstream activation services (suppliers/upstream/, contract/suppliers.md, 3)
    upstream_call_timeout_seconds: float = 10.0  # getPrices, getStatus, setStatus, getBalance
    upstream_sync_interval_seconds: float = 60.0  # getPrices + getBalance per upstream, jittered
    upstream_status_first_seconds: float = 2.0  # the first getStatus after a purchase ...
    upstream_status_max_seconds: float = 30.0  # ... then growing by half each time up to this
    upstream_status_lease_seconds: float = 30.0  # a poll claimed by a process that died is freed
    upstream_low_balance_minor: int = 500  # below this balance at an upstream, a warning

    # The outbox of calls that must happen (services/outbox.py)
    outbox_poll_seconds: float = 1.0  # how often a worker looks for due messages
    outbox_batch_size: int = 20  # messages one worker claims (and sends at once) per round
    outbox_lease_seconds: float = 60.0  # a claim expires after this, if its worker died
    outbox_backoff_base_seconds: float = 2.0  # the first retry's delay, doubled each attempt
    outbox_backoff_max_seconds: float = 900.0  # no retry waits longer than this
    outbox_keep_sent_hours: float = 72.0  # a sent message is deleted this long after (pruning)

    # Users' SMS webhooks (issue 13; services/user_webhooks.py, frontend-contract/README.md)
    # Allows http:// and private, loopback and link-local addresses: local development and
    # tests only. Off, a webhook must be https:// to a public address (checked again after DNS).
    webhooks_allow_private: bool = False
    webhook_timeout_seconds: float = 5.0  # one POST, connection included
    webhook_retry_hours: float = 24.0  # a delivery is retried this long, then given up
    webhook_max_in_flight_per_user: int = 4  # POSTs to one user's receiver at once, per process
    webhook_max_in_flight: int = 200  # POSTs at once per process, over all users
    # Off: the app does not send users' webhooks itself; `smsrooms webhook-worker` processes do,
    # woken over the event bus (Redis) after each commit that queued a delivery (ADR 0018).
    webhook_worker_in_app: bool = True

    @classmethod
    def from_env(cls, env_file: str | Path | None = ".env", **overrides: object) -> Settings:
        """Every field can be set by the environment variable of its name in upper case
        (`SMS_WAIT_SECONDS`, `LOGIN_ATTEMPTS_PER_MINUTE`, ...), cast to the field's type."""
        config = Config(env_file if env_file and Path(env_file).exists() else None)
        defaults = cls()
        # Any: each value has the type of its field (cast by _cast, or so given by the caller),
        # which mypy cannot tell from a field name held in a variable.
        values: dict[str, Any] = {}
        for item in dataclasses.fields(cls):
            if item.name == "demo_supplier_secret_generated":
                continue
            raw = config(item.name.upper(), default=None)
            if raw is not None and raw != "":
                values[item.name] = _cast(raw, getattr(defaults, item.name), item.type)
        values["demo_supplier_secret_generated"] = "demo_supplier_secret" not in values
        if "demo_payments" not in values and "demo_supplier" in values:
            values["demo_payments"] = values["demo_supplier"]
        if "public_url" in values:
            values["public_url"] = str(values["public_url"]).rstrip("/")
        values.update(overrides)
        settings = dataclasses.replace(defaults, **values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.log_format not in {None, "json", "console"}:
            raise ValueError("LOG_FORMAT must be 'json' or 'console'")
        if self.email_verification not in {"required", "optional"}:
            raise ValueError("EMAIL_VERIFICATION must be 'required' or 'optional'")
        if not (0 < self.sms_wait_seconds <= self.activation_window_seconds):
            raise ValueError("need 0 < SMS_WAIT_SECONDS <= ACTIVATION_WINDOW_SECONDS")
        if not self.database_url.startswith(("sqlite://", "postgres://", "postgresql://")):
            raise ValueError("DATABASE_URL must be sqlite://... or postgres://...")
        if not self.event_bus_url.startswith(("memory://", "redis://", "rediss://")):
            raise ValueError("EVENT_BUS_URL must be memory:// or redis://...")
        if not 0 < self.top_up_min_minor <= self.top_up_max_minor:
            raise ValueError("need 0 < TOP_UP_MIN_MINOR <= TOP_UP_MAX_MINOR")
        if self.login_email_attempts_per_hour <= 60 * self.login_attempts_per_minute:
            raise ValueError(
                "LOGIN_EMAIL_ATTEMPTS_PER_HOUR must exceed 60 x LOGIN_ATTEMPTS_PER_MINUTE: "
                "otherwise one address alone could lock the owner out of an account"
            )
        if bool(self.stripe_api_key) != bool(self.stripe_webhook_secret):
            raise ValueError("set both STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET, or neither")
        for key in self.secrets_key:
            try:
                Fernet(key.encode())
            except ValueError:
                raise ValueError(
                    "SECRETS_KEY: Fernet keys (32 url-safe base64 bytes), comma-separated"
                ) from None
        if self.supplier_acquire_timeout_seconds <= 0 or self.routing_max_candidates < 1:
            raise ValueError(
                "need SUPPLIER_ACQUIRE_TIMEOUT_SECONDS > 0, ROUTING_MAX_CANDIDATES >= 1"
            )
        if bool(self.nowpayments_api_key) != bool(self.nowpayments_ipn_secret):
            raise ValueError("set both NOWPAYMENTS_API_KEY and NOWPAYMENTS_IPN_SECRET, or neither")
        if not 0 < self.smshub_poll_min_seconds <= self.smshub_poll_max_seconds:
            raise ValueError("need 0 < SMSHUB_POLL_MIN_SECONDS <= SMSHUB_POLL_MAX_SECONDS")
        if not 0 < self.upstream_status_first_seconds <= self.upstream_status_max_seconds:
            raise ValueError(
                "need 0 < UPSTREAM_STATUS_FIRST_SECONDS <= UPSTREAM_STATUS_MAX_SECONDS"
            )
        if self.upstream_sync_interval_seconds <= 0:
            raise ValueError("need UPSTREAM_SYNC_INTERVAL_SECONDS > 0")
        if self.outbox_lease_seconds <= 2 * self.upstream_call_timeout_seconds:
            # The outbox gives a handler half its lease: setStatus must fit in it.
            raise ValueError("need OUTBOX_LEASE_SECONDS > 2 x UPSTREAM_CALL_TIMEOUT_SECONDS")
        if self.upstream_status_lease_seconds <= self.upstream_call_timeout_seconds:
            raise ValueError("need UPSTREAM_STATUS_LEASE_SECONDS > UPSTREAM_CALL_TIMEOUT_SECONDS")
        if self.outbox_lease_seconds <= self.smshub_call_deadline_seconds:
            # A claim must outlive the call it covers, or a second worker would send it too.
            raise ValueError("need OUTBOX_LEASE_SECONDS > SMSHUB_CALL_DEADLINE_SECONDS")
        if not 0 < 2 * self.webhook_timeout_seconds < self.outbox_lease_seconds:
            # The outbox gives a handler half the lease; a POST must fit in it.
            raise ValueError("need 0 < 2 x WEBHOOK_TIMEOUT_SECONDS < OUTBOX_LEASE_SECONDS")
        if self.outbox_keep_sent_hours <= 0:
            # While a sent message is kept, the same (kind, key) enqueued again is a no-op.
            raise ValueError("need OUTBOX_KEEP_SENT_HOURS > 0")
        if self.webhook_max_in_flight_per_user < 1 or self.webhook_max_in_flight < 1:
            raise ValueError("need WEBHOOK_MAX_IN_FLIGHT_PER_USER, WEBHOOK_MAX_IN_FLIGHT >= 1")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite://")

    @property
    def graphiql_enabled(self) -> bool:
        return self.demo_supplier if self.graphiql is None else self.graphiql

    @property
    def introspection_enabled(self) -> bool:
        return self.demo_supplier if self.introspection is None else self.introspection

    @property
    def log_json(self) -> bool:
        return self.log_format == "json" if self.log_format else not self.demo_supplier

    @property
    def metrics_open(self) -> bool:
        """/metrics without a token (with one, see metrics_token)."""
        return self.demo_supplier and not self.metrics_token
