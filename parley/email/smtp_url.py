"""`PARLEY_SMTP_URL` parsed into what `smtplib` needs (SPEC §14, docs/email.md).

    smtp://user:pass@host:587?starttls=true   plain connection upgraded with STARTTLS
    smtps://user:pass@host:465                TLS from the first byte (implicit TLS)
    smtp://127.0.0.1:1025                     no TLS, no login (a local relay or test server)

User and password are percent-decoded (a password with `@` or `/` is written `%40`, `%2F`).
Anything else — another scheme, no host, a bad port, an unknown query option, STARTTLS on an
`smtps` URL — is refused with a message that names the problem, at start-up (the settings
validate the URL), never at the first send. Standard library only: the settings import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class SmtpUrlError(ValueError):
    """PARLEY_SMTP_URL cannot be used; the message says why (never echoing the password)."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool = False  # smtps://
    starttls: bool = False  # smtp://...?starttls=true
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def encrypted(self) -> bool:
        return self.implicit_tls or self.starttls

    @property
    def loopback(self) -> bool:
        return self.host in _LOOPBACK


def parse_smtp_url(url: str) -> SmtpConfig:
    """The connection `url` describes; raises `SmtpUrlError` with a clear reason otherwise."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # a port that is not a number, or out of range
        raise SmtpUrlError(f"PARLEY_SMTP_URL has an invalid port: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise SmtpUrlError(
            "PARLEY_SMTP_URL must start with smtp:// or smtps:// "
            f"(got {scheme + '://' if scheme else 'no scheme'})"
        )
    if not parts.hostname:
        raise SmtpUrlError("PARLEY_SMTP_URL has no host (smtp://user:pass@host:port)")
    if parts.path not in ("", "/") or parts.fragment:
        raise SmtpUrlError("PARLEY_SMTP_URL takes no path or fragment")
    try:
        options = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise SmtpUrlError("PARLEY_SMTP_URL has a malformed query string") from None
    unknown = sorted(set(options) - {"starttls"})
    if unknown:
        raise SmtpUrlError(f"PARLEY_SMTP_URL has unknown option(s) {unknown}; only starttls")
    starttls = False
    if "starttls" in options:
        value = options["starttls"][-1].strip().lower()
        if value not in _TRUE | _FALSE:
            raise SmtpUrlError("PARLEY_SMTP_URL starttls must be true or false")
        starttls = value in _TRUE
    if starttls and scheme == "smtps":
        raise SmtpUrlError(
            "PARLEY_SMTP_URL: smtps:// is already TLS; starttls=true is for smtp:// only"
        )
    if port == 0:
        raise SmtpUrlError("PARLEY_SMTP_URL has an invalid port: 0")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise SmtpUrlError("PARLEY_SMTP_URL has a password but no user name")
    return SmtpConfig(
        host=parts.hostname,
        port=port if port is not None else DEFAULT_PORTS[scheme],
        implicit_tls=scheme == "smtps",
        starttls=starttls,
        username=username,
        password=password,
    )
