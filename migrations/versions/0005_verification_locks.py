"""verification_locks: an account's lockout as a row, not an audit-event kind (SPEC §4)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "verification_locks",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_verification_locks_account_id_accounts"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_verification_locks_conversation_id_conversations",
        ),
        sa.PrimaryKeyConstraint("account_id", name="pk_verification_locks"),
    )
    # Locks recorded before this table existed were `verification.locked` audit events: carry
    # the ones still running over, so a deploy does not hand a guesser fresh attempts.
    bind = op.get_bind()
    audit = sa.table(
        "audit_events",
        sa.column("kind", sa.String),
        sa.column("account_id", sa.Integer),
        sa.column("data", sa.JSON),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    until: dict[int, datetime] = {}
    rows = bind.execute(
        sa.select(audit.c.account_id, audit.c.data, audit.c.created_at).where(
            audit.c.kind == "verification.locked", audit.c.account_id.is_not(None)
        )
    )
    for account_id, data, created_at in rows:
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=timezone.utc)
        minutes = int((data or {}).get("lockout_minutes") or 30)
        end = created_at + timedelta(minutes=minutes)
        until[account_id] = max(end, until.get(account_id, end))
    now = datetime.now(timezone.utc)
    locks = sa.table(
        "verification_locks",
        sa.column("account_id", sa.Integer),
        sa.column("locked_until", sa.DateTime(timezone=True)),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    live = [
        {"account_id": account_id, "locked_until": end, "created_at": now}
        for account_id, end in until.items()
        if end > now
    ]
    if live:
        bind.execute(locks.insert(), live)


def downgrade() -> None:
    op.drop_table("verification_locks")
