"""Indexes for a statewide academy: each learner's enrollments, completions, people, certificates.

Revision ID: 0007
Revises: 0006

- enrollments (user_id, course_id) replaces (user_id): a person's enrollment in one course
  (course and module pages, a cohort's progress matrix) is one index lookup.
- enrollments (completed_at, user_id, version_id) for completed ones replaces (completed_at):
  the completions report reads the latest completions in order without stepping over the
  unfinished enrollments, and can count completions from the index alone.
- users (name): the people list is sorted by name.
- users (county_id): a county's completions, and its people.
- certificates (issued_at): the certificates list shows the latest issued.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMPLETED = sa.text("status = 'completed'")


def upgrade() -> None:
    op.create_index("ix_enrollments_user_course", "enrollments", ["user_id", "course_id"])
    op.drop_index("ix_enrollments_user_id", table_name="enrollments")
    op.create_index(
        "ix_enrollments_completions",
        "enrollments",
        ["completed_at", "user_id", "version_id"],
        postgresql_where=COMPLETED,
        sqlite_where=COMPLETED,
    )
    op.drop_index("ix_enrollments_completed_at", table_name="enrollments")
    op.create_index("ix_users_name", "users", ["name"])
    op.create_index("ix_users_county_id", "users", ["county_id"])
    op.create_index("ix_certificates_issued_at", "certificates", ["issued_at"])


def downgrade() -> None:
    op.drop_index("ix_certificates_issued_at", table_name="certificates")
    op.drop_index("ix_users_county_id", table_name="users")
    op.drop_index("ix_users_name", table_name="users")
    op.create_index("ix_enrollments_completed_at", "enrollments", ["completed_at"])
    op.drop_index("ix_enrollments_completions", table_name="enrollments")
    op.create_index("ix_enrollments_user_id", "enrollments", ["user_id"])
    op.drop_index("ix_enrollments_user_course", table_name="enrollments")
