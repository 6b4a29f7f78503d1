"""The email channel (SPEC §14, docs/email.md): SMTP or the local outbox, RFC 8058 unsubscribe,
opt-out by address. The outreach engine calls `send_email`."""

from parley.email.send import send_email
from parley.email.transport import EmailTransport, OutboxTransport, SmtpTransport, make_transport

__all__ = ["EmailTransport", "OutboxTransport", "SmtpTransport", "make_transport", "send_email"]
