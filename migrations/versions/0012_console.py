"""console at scale: canned replies, agents' display names, the assignee index

- canned_replies: shortcut -> text, inserted with `/shortcut` in the console's reply box
- users.display_name: the name debtors see on a team member's replies
- messages.sender_name: that name as it was sent on an agent reply
- ix_escalations_assigned: the queue's "mine" / "unassigned" filters and round-robin counts

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shortcut", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by_user_id"],
            ["users.id"],
            name=op.f("fk_canned_replies_updated_by_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_replies")),
        sa.UniqueConstraint("shortcut", name=op.f("uq_canned_replies_shortcut")),
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("display_name", sa.String(length=64), nullable=True))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("sender_name", sa.String(length=64), nullable=True))
    with op.batch_alter_table("escalations") as batch:
        batch.create_index("ix_escalations_assigned", ["assigned_user_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("escalations") as batch:
        batch.drop_index("ix_escalations_assigned")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("sender_name")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("display_name")
    op.drop_table("canned_replies")
