"""the dialogue's state on the conversation, verification sessions, promises to pay

- conversations.dialogue: what the bot asked and holds (parley.dialogue.state), JSON
- conversations.last_debtor_at: when the debtor last wrote (verification lasts a session, SPEC §4)
- promises: a promise to pay without a plan, with its amount and date (SPEC §6, §14)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("last_debtor_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("dialogue", sa.JSON(), nullable=True))
    op.create_table(
        "promises",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_promises_account_id_accounts"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_promises_conversation_id_conversations",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_promises"),
    )
    op.create_index("ix_promises_account_id", "promises", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_promises_account_id", table_name="promises")
    op.drop_table("promises")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("dialogue")
        batch.drop_column("last_debtor_at")
