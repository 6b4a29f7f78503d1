"""the validation notice as provided, and the dispute's validation-period flag (SPEC §14)

- validation_notices: one per account: when and how it was provided, the date its validation
  period ends, and its content as shown
- escalations.within_validation_period: a dispute recorded by the end of that period

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "validation_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("period_ends", sa.Date(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_validation_notices_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_notices")),
        sa.UniqueConstraint("account_id", name=op.f("uq_validation_notices_account_id")),
    )
    with op.batch_alter_table("escalations") as batch:
        batch.add_column(sa.Column("within_validation_period", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("escalations") as batch:
        batch.drop_column("within_validation_period")
    op.drop_table("validation_notices")
