"""the account's mailing address, contact consent and validation-notice date (SPEC §3)

- accounts.address_line1, address_line2, city, state: the validation notice's address and the
  state whose contact rules apply (state derived from the ZIP when the file leaves it blank)
- accounts.contact_consent: the channels the debtor agreed to be contacted on first (JSON list)
- accounts.validation_notice_sent: a notice already sent by other means on this date

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("address_line1", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("address_line2", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("city", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("state", sa.String(length=2), nullable=True))
        batch.add_column(
            sa.Column("contact_consent", sa.JSON(), nullable=False, server_default="[]")
        )
        batch.add_column(sa.Column("validation_notice_sent", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("validation_notice_sent")
        batch.drop_column("contact_consent")
        batch.drop_column("state")
        batch.drop_column("city")
        batch.drop_column("address_line2")
        batch.drop_column("address_line1")
