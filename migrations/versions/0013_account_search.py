"""account search at portfolio scale: an index on the lowered first name

The console's account search reads every branch through an index (SPEC §15 at 1,000,000
accounts): the reference and the last name's key have theirs already; the first name gets one on
`lower(first_name)`, searched as a range.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_accounts_first_name_lower", "accounts", [sa.text("lower(first_name)")])


def downgrade() -> None:
    op.drop_index("ix_accounts_first_name_lower", table_name="accounts")
