"""Twilio (SPEC §7): webhook signatures, TwiML replies, delivery-status URLs, and the REST
transport for messages Parley starts (or the local outbox when Twilio is not configured)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from parley.core.settings import Settings
from parley.tables import OutboundStatus

log = logging.getLogger(__name__)

TWILIO_TIMEOUT_SECONDS = 10.0
STATUS_PATH = "/sms/twilio/status"


def signature_valid(
    auth_token: str,
    url: str,
    params: Mapping[str, Any],
    signature: str | None,
    signature_settings: str | None = None,
) -> bool:
    """Twilio's `X-Twilio-Signature` over the exact URL it called (our configured public URL +
    path + query) and the form parameters; a missing signature is simply invalid."""
    if not signature:
        return False
    validator = RequestValidator(auth_token)
    algorithm = get_signature_algorithm(signature_settings)
    return bool(validator.validate(url, params, signature, algorithm))


def status_callback_url(settings: Settings, message_ids: Sequence[int] = ()) -> str:
    """Where Twilio reports delivery; reply SMS name the stored messages they carry, because a
    TwiML reply's MessageSid is only known once Twilio calls back."""
    url = settings.public_url.rstrip("/") + STATUS_PATH
    if message_ids:
        url += "?m=" + ",".join(str(message_id) for message_id in message_ids)
    return url


def twiml(replies: Sequence[OutgoingSms], settings: Settings) -> str:
    response = MessagingResponse()
    for reply in replies:
        response.message(
            reply.text, action=status_callback_url(settings, reply.message_ids), method="POST"
        )
    return str(response.to_xml())


# Twilio error for a recipient who replied STOP at the carrier or Twilio level.
UNSUBSCRIBED_RECIPIENT = "21610"


@dataclass(frozen=True)
class OutgoingSms:
    text: str
    message_ids: tuple[int, ...]


@dataclass(frozen=True)
class SendResult:
    status: OutboundStatus  # SENT or OUTBOX
    provider_id: str | None = None
    delivery_status: str | None = None


class SmsTransport(Protocol):
    def send(self, to: str, body: str) -> SendResult: ...


class OutboxTransport:
    """Local mode: the message is kept in `outbound_messages` with status `outbox` for the
    console; nothing leaves the machine."""

    def send(self, to: str, body: str) -> SendResult:
        return SendResult(OutboundStatus.OUTBOX)


class RoutedHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio ships no types
    """The twilio library's HTTP client with every Twilio API host replaced by `base_url`: how
    tests point the real client at a local stand-in without patching the library."""

    def __init__(self, base_url: str, timeout: float = TWILIO_TIMEOUT_SECONDS) -> None:
        super().__init__(timeout=timeout)
        parts = urlsplit(base_url)
        self._scheme, self._netloc = parts.scheme, parts.netloc
        self._prefix = parts.path.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        routed = urlunsplit(
            (self._scheme, self._netloc, self._prefix + parts.path, parts.query, "")
        )
        return super().request(method, routed, *args, **kwargs)


class TwilioTransport:
    """The Twilio REST API (Messages resource), with delivery reports to our status webhook."""

    def __init__(self, settings: Settings) -> None:
        if not settings.twilio_rest_configured:
            raise ValueError("Twilio account SID, auth token and a sender are needed")
        http_client = (
            RoutedHttpClient(settings.twilio_api_url)
            if settings.twilio_api_url
            else TwilioHttpClient(timeout=TWILIO_TIMEOUT_SECONDS)
        )
        self._client = Client(
            settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client
        )
        self._sender: dict[str, str] = (
            {"messaging_service_sid": settings.twilio_messaging_service_sid}
            if settings.twilio_messaging_service_sid
            else {"from_": settings.twilio_from_number or ""}
        )
        self._status_callback = status_callback_url(settings)

    def send(self, to: str, body: str) -> SendResult:
        message = self._client.messages.create(
            to=to, body=body, status_callback=self._status_callback, **self._sender
        )
        return SendResult(OutboundStatus.SENT, message.sid, message.status)


def make_transport(settings: Settings) -> SmsTransport:
    """Twilio when it is fully configured, the local outbox otherwise (SPEC §7 local mode)."""
    if settings.twilio_rest_configured:
        return TwilioTransport(settings)
    return OutboxTransport()
