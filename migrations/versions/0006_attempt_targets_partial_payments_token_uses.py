"""attempt targets, partial payments, single-use portal tokens, indexed verification factors

- verification_attempt_targets: every account a failed attempt could have been aimed at (SPEC §4)
- installments.paid_cents: what was paid towards an installment (SPEC §8, partial payments)
- conversations.bot_failures / bot_repair / waiting_reply_at: a conversation is never mute
  (SPEC §7): failed bot turns counted, the bot's side repaired, waiting notes paced
- portal_token_uses: the jti of every portal token that signed in (a token signs in once)
- accounts: composite indexes on (last_name_key, dob_hash / zip_hash / ssn4_hash), replacing
  the single-column last_name_key index, so candidates come from one indexed lookup (SPEC §13)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "verification_attempt_targets",
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["verification_attempts.id"],
            name="fk_verification_attempt_targets_attempt_id",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_verification_attempt_targets_account_id_accounts",
        ),
        sa.PrimaryKeyConstraint("attempt_id", "account_id", name="pk_verification_attempt_targets"),
    )
    op.create_index(
        "ix_verification_attempt_targets_account",
        "verification_attempt_targets",
        ["account_id", "created_at"],
    )
    # Attempts recorded before: their one attributed account is their target.
    op.execute(
        "INSERT INTO verification_attempt_targets (attempt_id, account_id, created_at) "
        "SELECT id, account_id, created_at FROM verification_attempts "
        "WHERE account_id IS NOT NULL AND success = false"
    )
    op.create_table(
        "portal_token_uses",
        sa.Column("jti", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_portal_token_uses_account_id_accounts"
        ),
        sa.PrimaryKeyConstraint("jti", name="pk_portal_token_uses"),
    )
    with op.batch_alter_table("installments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("paid_cents", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.execute("UPDATE installments SET paid_cents = amount_cents WHERE status = 'paid'")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bot_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("bot_repair", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("waiting_reply_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_accounts_last_name_key")
        batch_op.create_index("ix_accounts_name_dob", ["last_name_key", "dob_hash"])
        batch_op.create_index("ix_accounts_name_zip", ["last_name_key", "zip_hash"])
        batch_op.create_index("ix_accounts_name_ssn4", ["last_name_key", "ssn4_hash"])


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("waiting_reply_at")
        batch_op.drop_column("bot_repair")
        batch_op.drop_column("bot_failures")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_accounts_name_ssn4")
        batch_op.drop_index("ix_accounts_name_zip")
        batch_op.drop_index("ix_accounts_name_dob")
        batch_op.create_index("ix_accounts_last_name_key", ["last_name_key"])
    with op.batch_alter_table("installments", schema=None) as batch_op:
        batch_op.drop_column("paid_cents")
    op.drop_table("portal_token_uses")
    op.drop_index("ix_verification_attempt_targets_account", "verification_attempt_targets")
    op.drop_table("verification_attempt_targets")
