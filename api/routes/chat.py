"""Web-chat REST contract (SPEC §7)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, Field, field_validator

from api.deps import AllowedOrigin, BotDep, SessionDep, SessionFactoryDep, SettingsDep
from parley.conversations import turns
from parley.models import Channel
from parley.verification import portal_tokens

router = APIRouter(prefix="/api/chat", tags=["chat"], dependencies=[AllowedOrigin])

Status = Literal["bot", "queued", "human", "closed"]


class Button(BaseModel):
    title: str
    payload: str


class ChatMessage(BaseModel):
    text: str
    buttons: list[Button] | None = None


class TranscriptMessage(ChatMessage):
    """Also who said it and the message id: the widget resumes its live stream after the last
    id and tells debtor, bot and agent messages apart after a reload."""

    id: int
    sender: Literal["debtor", "bot", "agent"]


class SessionCreate(BaseModel):
    model_config = {"extra": "forbid"}
    portal_token: str | None = None


class SessionCreated(BaseModel):
    session_id: str
    messages: list[ChatMessage]


class MessageIn(BaseModel):
    model_config = {"extra": "forbid"}
    text: str = Field(min_length=1, max_length=2000)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        return value


class TurnOut(BaseModel):
    messages: list[ChatMessage]
    status: Status


class Transcript(BaseModel):
    messages: list[TranscriptMessage]
    status: Status


def _out(result: turns.TurnResult) -> list[ChatMessage]:
    return [ChatMessage.model_validate(m.as_dict()) for m in result.messages]


@router.post("/sessions", status_code=status.HTTP_201_CREATED, response_model=SessionCreated)
def create_session(
    factory: SessionFactoryDep,
    bot: BotDep,
    settings: SettingsDep,
    body: SessionCreate | None = None,
) -> SessionCreated:
    account_id = None
    if body is not None and body.portal_token is not None:
        # Checked before anything is created: a refused token leaves no conversation (401).
        with factory() as session:
            account_id = portal_tokens.account_for_token(
                session,
                body.portal_token,
                settings.portal_secret,
                audience=settings.portal_token_audience,
            ).id
    result = turns.start_conversation(
        factory,
        bot,
        channel=Channel.WEB,
        account_id=account_id,
        verified_by="portal_token" if account_id is not None else None,
    )
    return SessionCreated(session_id=result.conversation_id, messages=_out(result))


@router.post("/sessions/{session_id}/messages", response_model=TurnOut)
def post_message(
    session_id: str, body: MessageIn, factory: SessionFactoryDep, bot: BotDep
) -> TurnOut:
    result = turns.handle_inbound(factory, bot, session_id, body.text)
    return TurnOut(messages=_out(result), status=str(result.status))


@router.get("/sessions/{session_id}/messages", response_model=Transcript)
def get_transcript(session_id: str, session: SessionDep) -> Transcript:
    rows, status_ = turns.transcript(session, session_id)
    return Transcript(
        messages=[
            TranscriptMessage(
                text=m.text,
                buttons=m.buttons or None,
                id=m.id,
                sender=str(m.sender),  # type: ignore[arg-type]
            )
            for m in rows
        ],
        status=str(status_),
    )
