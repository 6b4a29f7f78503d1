"""CSV exports (SPEC §15): `/console/exports/{accounts,plans,payments,promises,escalations}.csv`
(supervisors) and `/console/conversations/{id}/transcript.{txt,csv}` (anyone who may read the
transcript). Each download is audited (`console.export`) before the first byte is sent, then
streamed from a session of its own: the request's unit of work has committed by then, and a
large export must not hold it open."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

from fastapi import APIRouter
from starlette.responses import StreamingResponse

from api.console_auth import LoginDep
from api.deps import SessionDep, StateDep
from parley.console import exports
from parley.console.work import require
from parley.conversations.state import get_conversation
from parley.core.errors import NotFound
from parley.records.audit import Kind, record, user_actor

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)
BOM = "\ufeff"  # Excel opens a UTF-8 CSV as UTF-8 only with it


def _download(chunks: Iterator[str], filename: str, media_type: str) -> StreamingResponse:
    def encoded() -> Iterator[bytes]:
        for chunk in chunks:
            yield chunk.encode("utf-8")

    return StreamingResponse(
        encoded(),
        media_type=f"{media_type}; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


@router.get("/exports/{name}.csv")
def export_csv(
    name: str, state: StateDep, session: SessionDep, login: LoginDep
) -> StreamingResponse:
    require(login, "export")
    rows = exports.EXPORTS.get(name)
    if rows is None:
        raise NotFound("export_not_found", "No such export.")
    record(session, Kind.CONSOLE_EXPORT, actor=user_actor(login.username), export=name)

    def chunks() -> Iterator[str]:
        yield BOM
        with state.sessions() as reader:
            yield from exports.to_csv(rows(reader))

    return _download(chunks(), f"parley-{name}-{_stamp()}.csv", "text/csv")


@router.get("/conversations/{conversation_id}/transcript.{fmt}")
def export_transcript(
    conversation_id: str, fmt: str, state: StateDep, session: SessionDep, login: LoginDep
) -> StreamingResponse:
    require(login, "export_transcript")
    if fmt not in ("txt", "csv"):
        raise NotFound("export_not_found", "Transcripts are exported as .txt or .csv.")
    conversation = get_conversation(session, conversation_id)
    record(
        session,
        Kind.CONSOLE_EXPORT,
        actor=user_actor(login.username),
        conversation_id=conversation.id,
        account_id=conversation.account_id,
        export=f"transcript.{fmt}",
    )

    def chunks() -> Iterator[str]:
        with state.sessions() as reader:
            opened = get_conversation(reader, conversation_id)
            if fmt == "csv":
                yield BOM
                yield from exports.to_csv(exports.transcript_rows(reader, opened))
            else:
                yield from exports.transcript_text(reader, opened)

    name = f"parley-transcript-{conversation_id[:12]}-{_stamp()}.{fmt}"
    return _download(chunks(), name, "text/csv" if fmt == "csv" else "text/plain")
