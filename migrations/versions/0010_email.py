"""the email channel (SPEC §14): opt-outs by address, and email rows in outbound_messages

- email_opt_outs: one row per address Parley has mailed, its unsubscribe token, opted out or not
- outbound_messages.to: wide enough for an email address (320)
- outbound_messages.subject: the email's subject
- outbound_messages.provider_id: wide enough for a Message-ID (255)
- outbound_messages.idempotency_key: unique; one row and at most one send per key

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_opt_outs",
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_email_opt_outs")),
        sa.UniqueConstraint("token", name=op.f("uq_email_opt_outs_token")),
    )
    with op.batch_alter_table("outbound_messages") as batch:
        batch.alter_column("to", existing_type=sa.String(length=20), type_=sa.String(length=320))
        batch.alter_column(
            "provider_id",
            existing_type=sa.String(length=64),
            type_=sa.String(length=255),
            existing_nullable=True,
        )
        batch.add_column(sa.Column("subject", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_outbound_messages_idempotency_key"), ["idempotency_key"]
        )


def downgrade() -> None:
    # The narrower columns cannot hold email rows; an email row without its table means nothing.
    op.execute("DELETE FROM outbound_messages WHERE channel = 'email'")
    with op.batch_alter_table("outbound_messages") as batch:
        batch.drop_constraint(op.f("uq_outbound_messages_idempotency_key"), type_="unique")
        batch.drop_column("idempotency_key")
        batch.drop_column("subject")
        batch.alter_column(
            "provider_id",
            existing_type=sa.String(length=255),
            type_=sa.String(length=64),
            existing_nullable=True,
        )
        batch.alter_column("to", existing_type=sa.String(length=320), type_=sa.String(length=20))
    op.drop_table("email_opt_outs")
