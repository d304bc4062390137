"""Compliance: what people carry for it, training plans, their requirements and extensions.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def person_columns() -> list[sa.Column[object]]:
    # New Column objects each time: one is bound to a table once added (tests migrate twice).
    return [
        sa.Column("hire_date", sa.Date()),
        sa.Column("role_date", sa.Date()),
        sa.Column("classification", sa.String(20)),
        sa.Column("license_type", sa.String(40)),
        sa.Column("license_number", sa.String(40)),
        sa.Column("license_expires", sa.Date()),
    ]


def upgrade() -> None:
    for column in person_columns():
        op.add_column("users", column)
    op.create_table(
        "training_plans",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.String(100), nullable=False, unique=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("problems", sa.JSON()),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "plan_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("training_plans.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("plan_id", "number"),
    )
    op.create_table(
        "requirement_extensions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("training_plans.id"), nullable=False),
        sa.Column("course_slug", sa.String(100), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("extended_to", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("user_id", "plan_id", "course_slug", "due_on"),
    )
    op.create_table(
        "requirements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("training_plans.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("course_slug", sa.String(100), nullable=False),
        sa.Column("due_on", sa.Date()),
        sa.Column("first_due_on", sa.Date()),
        sa.Column("met_on", sa.Date()),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("last_completed_on", sa.Date()),
        sa.Column("extended", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("user_id", "plan_id", "course_slug"),
    )
    op.create_index("ix_requirements_due_on", "requirements", ["due_on"])
    op.create_index("ix_requirements_plan_id", "requirements", ["plan_id", "due_on"])


def downgrade() -> None:
    op.drop_table("requirements")
    op.drop_table("requirement_extensions")
    op.drop_table("plan_versions")
    op.drop_table("training_plans")
    for column in reversed(person_columns()):
        op.execute(f"ALTER TABLE users DROP COLUMN {column.name}")
