"""Catalog: courses, their immutable content versions, and resource files.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "course_files",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_course_files")),
    )
    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("current_version_id", sa.Integer(), nullable=True),
        sa.Column("problems", sa.JSON(), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courses")),
        sa.UniqueConstraint("slug", name=op.f("uq_courses_slug")),
    )
    op.create_table(
        "course_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_course_versions_course_id_courses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_versions")),
        sa.UniqueConstraint(
            "course_id", "fingerprint", name=op.f("uq_course_versions_course_id_fingerprint")
        ),
        sa.UniqueConstraint(
            "course_id", "number", name=op.f("uq_course_versions_course_id_number")
        ),
    )
    with op.batch_alter_table("course_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_course_versions_course_id"), ["course_id"], unique=False
        )
    # The two tables point at each other, so this key is added once both exist.
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_courses_current_version", "course_versions", ["current_version_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.drop_constraint("fk_courses_current_version", type_="foreignkey")
    with op.batch_alter_table("course_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_course_versions_course_id"))

    op.drop_table("course_versions")
    op.drop_table("courses")
    op.drop_table("course_files")
