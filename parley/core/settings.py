"""Operator settings, read from the environment or `.env` (documented in `.env.example`).

Local mode needs nothing set. In production (`PARLEY_ENV=production`) the defaults that are only
safe on a developer's machine are refused at start-up instead of being discovered later.
"""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.policy import default as email_policy
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:
    from parley.email.smtp_url import SmtpConfig

ROOT = Path(__file__).resolve().parents[2]
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 - refused in production
VERIFICATION_FACTORS = ("last_name", "date_of_birth", "zip_or_ssn4")
DEV_PORTAL_TOKEN_SECRET = "dev-insecure-portal-token-secret-change-me"  # noqa: S105 - local mode
DEFAULT_COLLECTOR_STATEMENT = "{company} is a debt collector."
DEV_RASA_TOKEN = "dev-insecure-rasa-token-change-me"  # noqa: S105 - refused in production
DEV_COLLECTOR_ADDRESS = "(demo address - set PARLEY_COLLECTOR_ADDRESS) 1 Example Way, Springfield"
_EMAIL = re.compile(r"^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+\Z")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
        # A refused setting is reported by name and reason only: the input can hold passwords
        # (PARLEY_SMTP_URL) and secrets, and start-up errors end up in logs.
        hide_input_in_errors=True,
    )

    env: Literal["development", "test", "production"] = Field("development", alias="PARLEY_ENV")
    company_name: str = Field("Parley Recovery Services", alias="PARLEY_COMPANY_NAME")
    company_contact: str = Field(
        "support@example.com or 1-800-555-0100", alias="PARLEY_COMPANY_CONTACT"
    )
    # The validation notice (SPEC §14, Reg F 1006.34): the collector's mailing address, where
    # disputes and original-creditor requests are written to, and the electronic ways to
    # dispute (an email address, and the web chat page debtors reach; unset chat URL = the
    # demo page in local mode). A notice needs the address and one electronic way in production.
    collector_address: str | None = Field(None, alias="PARLEY_COLLECTOR_ADDRESS")
    dispute_email: str | None = Field(None, alias="PARLEY_DISPUTE_EMAIL")
    chat_url: str | None = Field(None, alias="PARLEY_CHAT_URL")
    public_url: str = Field("http://127.0.0.1:8000", alias="PARLEY_PUBLIC_URL")
    port: int = Field(8000, alias="PARLEY_PORT")
    secret_key: str = Field(DEV_SECRET_KEY, alias="PARLEY_SECRET_KEY")
    database_url: str = Field(f"sqlite:///{ROOT / 'var' / 'parley.db'}", alias="DATABASE_URL")
    # One URL, or a comma-separated list of Rasa shards: the gateway sends every conversation to
    # the same shard (by a stable hash of its id), so shards need no shared lock store.
    rasa_url: str = Field("http://127.0.0.1:5005", alias="PARLEY_RASA_URL")
    action_server_url: str = Field("http://127.0.0.1:5055", alias="PARLEY_ACTION_SERVER_URL")
    # Who answers a debtor's message: `rasa` (SPEC §2: the gateway forwards to Rasa's REST
    # channel, Rasa calls the action server) or `in_process` (the gateway scores the same trained
    # model and calls the same dialogue itself; no Rasa or action server on the message path;
    # docs/performance.md). `in_process` reads the model archive at PARLEY_NLU_MODEL.
    bot_engine: Literal["rasa", "in_process"] = Field("rasa", alias="PARLEY_BOT_ENGINE")
    nlu_model_path: Path = Field(
        ROOT / "var" / "models" / "parley.tar.gz", alias="PARLEY_NLU_MODEL"
    )
    rasa_timeout_seconds: float = Field(15.0, alias="PARLEY_RASA_TIMEOUT")
    # Rasa's HTTP API (loopback / private network only) is token-protected; the gateway uses it
    # to reset a conversation a failed turn left broken. Local mode uses a development token.
    rasa_token: str = Field(DEV_RASA_TOKEN, alias="PARLEY_RASA_TOKEN")
    # Seconds a Rasa shard that just failed is left alone before it is tried again.
    rasa_cooldown_seconds: float = Field(5.0, ge=0, alias="PARLEY_RASA_COOLDOWN")
    # Redis (production): per-conversation turn locks across API replicas and the rate limits'
    # counters. Unset: in-process locks and counters (one API process, `make run`).
    redis_url: str | None = Field(None, alias="PARLEY_REDIS_URL")
    # A turn's lock lease and how long a message waits for the previous one of its conversation.
    turn_lock_seconds: float = Field(60.0, gt=0, alias="PARLEY_TURN_LOCK_SECONDS")
    turn_wait_seconds: float = Field(20.0, gt=0, alias="PARLEY_TURN_WAIT_SECONDS")
    # Rate limits ("N/second|minute|hour|day", several separated by ";"), per client address:
    # console logins (and per user name), anonymous chat sessions, failed verification attempts.
    rate_limit_login: str = Field("10/minute;30/hour", alias="PARLEY_RATE_LIMIT_LOGIN")
    rate_limit_sessions: str = Field("20/minute;200/hour", alias="PARLEY_RATE_LIMIT_SESSIONS")
    rate_limit_verification: str = Field("15/hour", alias="PARLEY_RATE_LIMIT_VERIFICATION")
    # While a conversation waits for a person: the note "a person will answer" is repeated at
    # most every this many minutes; the team's hours ("mon-fri 08:00-20:00", zone below).
    waiting_reply_minutes: int = Field(5, ge=1, alias="PARLEY_WAITING_REPLY_MINUTES")
    team_hours: str = Field("mon-fri 08:00-20:00", alias="PARLEY_TEAM_HOURS")
    team_timezone: str = Field("America/New_York", alias="PARLEY_TEAM_TIMEZONE")
    # Request bodies larger than this are refused (413) before they are read in full.
    max_body_bytes: int = Field(1_048_576, ge=1024, alias="PARLEY_MAX_BODY_BYTES")
    max_upload_bytes: int = Field(200 * 1_048_576, ge=1024, alias="PARLEY_MAX_UPLOAD_BYTES")
    policies_path: Path = Field(ROOT / "config" / "policies.yml", alias="PARLEY_POLICIES")
    # The console's queue: per-reason response targets and round-robin assignment (SPEC §15).
    queue_config_path: Path = Field(ROOT / "config" / "queue.yml", alias="PARLEY_QUEUE_CONFIG")
    widget_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000", "http://localhost:8000"],
        alias="PARLEY_WIDGET_ORIGINS",
    )
    verification_factors: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(VERIFICATION_FACTORS), alias="PARLEY_VERIFICATION_FACTORS"
    )
    verification_max_attempts: int = Field(3, ge=1, alias="PARLEY_VERIFICATION_MAX_ATTEMPTS")
    verification_lockout_minutes: int = Field(30, ge=1, alias="PARLEY_VERIFICATION_LOCKOUT_MINUTES")
    # Verification lasts a session: after this many minutes without a message from the debtor
    # the next one verifies again (SPEC §4), on the web and over SMS alike.
    verification_session_minutes: int = Field(30, ge=1, alias="PARLEY_VERIFICATION_SESSION_MINUTES")
    twilio_account_sid: str | None = Field(None, alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: str | None = Field(None, alias="TWILIO_AUTH_TOKEN")
    twilio_from_number: str | None = Field(None, alias="TWILIO_FROM_NUMBER")
    twilio_messaging_service_sid: str | None = Field(None, alias="TWILIO_MESSAGING_SERVICE_SID")
    # Points the Twilio REST client at another host (the tests' local stand-in); unset in real use.
    twilio_api_url: str | None = Field(None, alias="PARLEY_TWILIO_API_URL")
    # SMS channel rules (SPEC §7): the opt-out statement every SMS carries, and how many segments
    # one SMS may use before the replies of a turn are split into several.
    sms_opt_out_text: str = Field("Reply STOP to opt out", alias="PARLEY_SMS_OPT_OUT_TEXT")
    sms_max_segments: int = Field(3, ge=1, le=10, alias="PARLEY_SMS_MAX_SEGMENTS")
    # Email (SPEC §14, docs/email.md): smtp://user:pass@host:port, smtps://... (implicit TLS) or
    # smtp://...?starttls=true. Unset: email goes to the local outbox (not in production).
    smtp_url: str | None = Field(None, alias="PARLEY_SMTP_URL", repr=False)  # holds a password
    smtp_timeout_seconds: float = Field(20.0, gt=0, le=300, alias="PARLEY_SMTP_TIMEOUT")
    # The From header ("Name <address>" or an address); needed with an SMTP URL.
    email_from: str | None = Field(None, alias="PARLEY_EMAIL_FROM")
    # Unset: email is on in local mode (the outbox) and, in production, exactly when
    # PARLEY_SMTP_URL is set. True in production without an SMTP URL is refused at start-up.
    email_enabled: bool | None = Field(None, alias="PARLEY_EMAIL_ENABLED")
    # An inbox that acts on unsubscribe requests, offered as the List-Unsubscribe mailto: next to
    # the https link. Unset: only the link (replies by email are not read, SPEC §14).
    email_unsubscribe_mailto: str | None = Field(None, alias="PARLEY_EMAIL_UNSUBSCRIBE_MAILTO")
    # How often the background job sends deferred messages; 0 disables it in this process.
    jobs_interval_seconds: float = Field(30.0, ge=0, alias="PARLEY_JOBS_INTERVAL_SECONDS")
    # A job's claim older than this was taken by a worker that died; the job then decides
    # (a charge is retried with its idempotency key, an SMS is marked failed for a person). Must
    # exceed the longest external call of one job.
    job_lease_seconds: float = Field(600.0, ge=5, alias="PARLEY_JOB_LEASE_SECONDS")
    # The job engine (parley/jobs): how many times a failing job is tried before it is left
    # `failed` for a person, the first retry's delay (doubled per attempt, capped at an hour),
    # and how many due jobs one worker claims per batch.
    job_max_attempts: int = Field(5, ge=1, alias="PARLEY_JOB_MAX_ATTEMPTS")
    job_backoff_seconds: float = Field(30.0, ge=0, alias="PARLEY_JOB_BACKOFF_SECONDS")
    job_batch_size: int = Field(50, ge=1, le=1000, alias="PARLEY_JOB_BATCH_SIZE")
    # `parley worker --check` fails when no worker has beaten for this long.
    worker_stale_seconds: float = Field(120.0, ge=1, alias="PARLEY_WORKER_STALE_SECONDS")
    # Outreach (SPEC §14): the cadences and contact rules files, the debt-collector statement
    # every initiated message carries (Reg F 1006.18(e); `{company}` is replaced), and the days
    # after a promise's date a payment may still post and keep it.
    cadences_path: Path = Field(ROOT / "config" / "cadences.yml", alias="PARLEY_CADENCES")
    contact_rules_path: Path = Field(
        ROOT / "config" / "contact-rules.yml", alias="PARLEY_CONTACT_RULES"
    )
    # Every initiated message says it is from a debt collector (Reg F 1006.18(e)); blank means
    # the default, and a wording that does not say "debt collector" is refused at start-up.
    collector_statement: str = Field(
        DEFAULT_COLLECTOR_STATEMENT, alias="PARLEY_COLLECTOR_STATEMENT"
    )
    promise_grace_days: int = Field(2, ge=0, le=30, alias="PARLEY_PROMISE_GRACE_DAYS")
    # Portal sign-in for the web chat (SPEC §4, docs/widget.md): the HS256 secret portals sign
    # tokens with, and the `aud` claim they must carry when set. Unset: portal tokens are refused
    # (local mode falls back to a development secret so the demo portal page works).
    portal_token_secret: str | None = Field(None, alias="PARLEY_PORTAL_TOKEN_SECRET")
    portal_token_audience: str | None = Field(None, alias="PARLEY_PORTAL_TOKEN_AUDIENCE")
    stripe_secret_key: str | None = Field(None, alias="STRIPE_SECRET_KEY")
    stripe_webhook_secret: str | None = Field(None, alias="STRIPE_WEBHOOK_SECRET")
    # Points the stripe library at another host (the tests' Stripe stand-in); unset in real use.
    stripe_api_base: str | None = Field(None, alias="PARLEY_STRIPE_API_BASE")

    @property
    def twilio_rest_configured(self) -> bool:
        """Outbound SMS go through Twilio only with credentials and a sender; else the outbox."""
        return bool(
            self.twilio_account_sid
            and self.twilio_auth_token
            and (self.twilio_from_number or self.twilio_messaging_service_sid)
        )

    @property
    def email_channel_enabled(self) -> bool:
        """Whether Parley may send email at all (see `email_enabled`)."""
        if self.email_enabled is not None:
            return self.email_enabled
        return self.env != "production" or self.smtp_url is not None

    @property
    def email_sender(self) -> str:
        """The From header: the configured one, or in local mode a placeholder on localhost."""
        if self.email_from:
            return self.email_from
        return str(Address(display_name=self.company_name, addr_spec="no-reply@localhost"))

    @property
    def portal_secret(self) -> str | None:
        """The secret portal tokens are checked with; only local mode has a fallback."""
        if self.portal_token_secret or self.env == "production":
            return self.portal_token_secret
        return DEV_PORTAL_TOKEN_SECRET

    @property
    def collector_mailing_address(self) -> str | None:
        """The address printed on notices; local mode shows a marked placeholder."""
        if self.collector_address or self.env == "production":
            return self.collector_address
        return DEV_COLLECTOR_ADDRESS

    @property
    def debtor_chat_url(self) -> str | None:
        """Where a debtor reaches the web chat (to dispute online); local mode: the demo page."""
        if self.chat_url or self.env == "production":
            return self.chat_url
        return f"{self.public_url.rstrip('/')}/demo"

    @property
    def rasa_urls(self) -> list[str]:
        return [url.strip().rstrip("/") for url in self.rasa_url.split(",") if url.strip()]

    @field_validator("widget_origins", "verification_factors", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @field_validator("verification_factors")
    @classmethod
    def _known_factors(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(VERIFICATION_FACTORS))
        if unknown or not value:
            raise ValueError(
                f"unknown verification factor(s) {unknown}; choose from {VERIFICATION_FACTORS}"
            )
        return value

    @field_validator("collector_statement", mode="before")
    @classmethod
    def _collector_statement(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return DEFAULT_COLLECTOR_STATEMENT
        if isinstance(value, str) and "debt collector" not in value.lower():
            raise ValueError('the collector statement must say "debt collector" (Reg F 1006.18(e))')
        return value

    @field_validator("smtp_url")
    @classmethod
    def _valid_smtp_url(cls, value: str | None) -> str | None:
        if value is not None:
            parse_smtp_url(value)  # raises SmtpUrlError (a ValueError) naming the problem
        return value

    @field_validator("email_from")
    @classmethod
    def _valid_email_from(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "\r" in value or "\n" in value:
            raise ValueError("PARLEY_EMAIL_FROM may not contain line breaks")
        header = email_policy.header_factory("From", value)
        addresses: tuple[Address, ...] = tuple(getattr(header, "addresses", ()))
        if header.defects or len(addresses) != 1 or not _EMAIL.match(addresses[0].addr_spec):
            raise ValueError(
                "PARLEY_EMAIL_FROM must be an address or 'Name <address>', e.g. "
                "'Parley Recovery Services <collections@example.com>'"
            )
        return value

    @field_validator("email_unsubscribe_mailto")
    @classmethod
    def _valid_mailto(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("PARLEY_EMAIL_UNSUBSCRIBE_MAILTO must be a plain address")
        return value

    @model_validator(mode="after")
    def _email_configured(self) -> Settings:
        if self.smtp_url and not self.email_from:
            raise ValueError("PARLEY_EMAIL_FROM is needed when PARLEY_SMTP_URL is set")
        if self.env == "production" and self.email_enabled and not self.smtp_url:
            raise ValueError(
                "PARLEY_EMAIL_ENABLED is true but PARLEY_SMTP_URL is not set: production has "
                "no outbox; set the SMTP URL or PARLEY_EMAIL_ENABLED=false"
            )
        if self.env == "production" and self.smtp_url:
            smtp = parse_smtp_url(self.smtp_url)
            if not smtp.encrypted and not smtp.loopback:
                raise ValueError(
                    "PARLEY_SMTP_URL must use smtps:// or ?starttls=true in production "
                    "(plain SMTP only to a relay on loopback)"
                )
        return self

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> Settings:
        if self.env == "production":
            if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32:
                raise ValueError(
                    "PARLEY_SECRET_KEY must be set to a random value of at least 32 characters "
                    "in production"
                )
            if self.database_url.startswith("sqlite"):
                raise ValueError("DATABASE_URL must point at PostgreSQL in production")
            if self.rasa_token == DEV_RASA_TOKEN or len(self.rasa_token) < 32:
                raise ValueError(
                    "PARLEY_RASA_TOKEN must be set to a random value of at least 32 characters "
                    "in production (it protects Rasa's HTTP API)"
                )
            if self.portal_token_secret is not None and len(self.portal_token_secret) < 32:
                raise ValueError("PARLEY_PORTAL_TOKEN_SECRET must be at least 32 characters")
            if self.twilio_api_url and not _private_transport(self.twilio_api_url):
                raise ValueError(
                    "PARLEY_TWILIO_API_URL must be an https:// (or loopback) URL in production"
                )
            if self.stripe_api_base and not _private_transport(self.stripe_api_base):
                raise ValueError(
                    "PARLEY_STRIPE_API_BASE must be an https:// (or loopback) URL in production"
                )
        return self


def parse_smtp_url(url: str) -> SmtpConfig:
    """Imported here, not at the top: `parley.email` imports these settings."""
    from parley.email.smtp_url import parse_smtp_url as parse

    return parse(url)


def _private_transport(url: str) -> bool:
    """https, or plain http that never leaves the machine (a provider stand-in on loopback, as
    the production topology's fault tests use)."""
    parsed = urlsplit(url)
    return parsed.scheme == "https" or (
        parsed.scheme == "http" and parsed.hostname in ("127.0.0.1", "localhost", "::1")
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing env."""
    return Settings()
