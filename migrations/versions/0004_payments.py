"""payments: checkout links, ledger, off-session installment charges (SPEC §8)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("posted_payments_cents", sa.BigInteger(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("payment_plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stripe_customer_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("payment_method_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("broken_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("installments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retry_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("charging_since", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "payment_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("installment_id", sa.Integer(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("save_card", sa.Boolean(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("stripe_session_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["installment_id"],
            ["installments.id"],
            name=op.f("fk_payment_links_installment_id_installments"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["payment_plans.id"], name=op.f("fk_payment_links_plan_id_payment_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_links")),
        sa.UniqueConstraint("plan_id", "attempt", name=op.f("uq_payment_links_plan_id")),
        sa.UniqueConstraint("stripe_session_id", name=op.f("uq_payment_links_stripe_session_id")),
        sa.UniqueConstraint("token", name=op.f("uq_payment_links_token")),
    )
    with op.batch_alter_table("payment_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_links_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("installment_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_ledger_entries_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["installment_id"],
            ["installments.id"],
            name=op.f("fk_ledger_entries_installment_id_installments"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["payment_plans.id"], name=op.f("fk_ledger_entries_plan_id_payment_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("reference", name=op.f("uq_ledger_entries_reference")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ledger_entries_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "installment_charges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("installment_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("payment_intent_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["installment_id"],
            ["installments.id"],
            name=op.f("fk_installment_charges_installment_id_installments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installment_charges")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_installment_charges_idempotency_key")),
        sa.UniqueConstraint(
            "installment_id", "attempt", name=op.f("uq_installment_charges_installment_id")
        ),
    )
    with op.batch_alter_table("installment_charges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_installment_charges_installment_id"), ["installment_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("installment_charges")
    op.drop_table("ledger_entries")
    op.drop_table("payment_links")
    with op.batch_alter_table("installments", schema=None) as batch_op:
        batch_op.drop_column("charging_since")
        batch_op.drop_column("retry_on")
    with op.batch_alter_table("payment_plans", schema=None) as batch_op:
        batch_op.drop_column("broken_at")
        batch_op.drop_column("completed_at")
        batch_op.drop_column("payment_method_id")
        batch_op.drop_column("stripe_customer_id")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("posted_payments_cents")
