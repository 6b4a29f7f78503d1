"""Twilio SMS webhooks (SPEC §7): inbound texts and delivery status callbacks.

Both are signed by Twilio (`X-Twilio-Signature`) over the URL it called; the URL checked is the
configured `PARLEY_PUBLIC_URL` + path + query, never the Host the request claims, so a request
signed for another URL fails. Without `TWILIO_AUTH_TOKEN` nothing can be checked and both answer
503 without reading anything (SPEC §12). There is no bypass in any mode.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData
from twilio.request_validator import SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER
from twilio.twiml.messaging_response import MessagingResponse

from api.deps import SessionDep, StateDep
from api.schemas.common import errors
from parley.core.errors import Forbidden, InvalidRequest, NotConfigured
from parley.sms import inbound, twilio
from parley.sms.status import apply_status

router = APIRouter(prefix="/sms/twilio", tags=["sms"])

TWIML = "application/xml"
TWIML_RESPONSE = {
    200: {
        "description": "TwiML (`<Response>` with the replies as `<Message>`s, in order)",
        "content": {TWIML: {"schema": {"type": "string"}}},
    },
    **errors(403, 503, e403="Missing or wrong X-Twilio-Signature; nothing was processed"),
}


async def _signed_form(request: Request, state: StateDep) -> FormData:
    token = state.settings.twilio_auth_token
    if not token:
        raise NotConfigured("sms_not_configured", "SMS is not configured on this server.")
    form = await request.form()
    url = state.settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    if not twilio.signature_valid(
        token,
        url,
        form,
        request.headers.get(SIGNATURE_HEADER),
        request.headers.get(SIGNATURE_SETTINGS_HEADER),
    ):
        raise Forbidden("invalid_signature", "Invalid Twilio signature.")
    return form


SignedForm = Annotated[FormData, Depends(_signed_form)]


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@router.post("", response_class=Response, responses=TWIML_RESPONSE)
async def inbound_sms(form: SignedForm, state: StateDep) -> Response:
    """One inbound text; the answer is TwiML with the replies in order (empty on a replay)."""
    message_sid = _field(form, "MessageSid") or _field(form, "SmsSid")
    sender = _field(form, "From")
    if not message_sid or not sender:
        raise InvalidRequest("invalid_request", "MessageSid and From are required.")
    turn = await inbound.handle_inbound_sms(
        state.sessions,
        state.bot,
        state.locks,
        state.settings,
        message_sid=message_sid,
        from_number=sender,
        body=_field(form, "Body"),
    )
    return Response(twilio.twiml(turn.replies, state.settings), media_type=TWIML)


@router.post("/status", response_class=Response, responses=TWIML_RESPONSE)
def status(request: Request, form: SignedForm, session: SessionDep) -> Response:
    """A delivery report for a reply (its stored message ids are in `m`) or a REST send."""
    message_sid = _field(form, "MessageSid") or _field(form, "SmsSid")
    new_status = _field(form, "MessageStatus") or _field(form, "SmsStatus")
    if not message_sid or not new_status:
        raise InvalidRequest("invalid_request", "MessageSid and MessageStatus are required.")
    ids = [int(part) for part in request.query_params.get("m", "").split(",") if part.isdigit()]
    apply_status(
        session,
        message_sid=message_sid,
        status=new_status,
        error_code=_field(form, "ErrorCode") or None,
        message_ids=ids,
    )
    return Response(str(MessagingResponse().to_xml()), media_type=TWIML)
