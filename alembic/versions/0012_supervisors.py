"""A person may have a supervisor: another person, who sees their training on "My team".

Revision ID: 0012
Revises: 0011

Supervisors in county child welfare are usually not trainers or admins, so supervising is
not a role: it is a link from the supervisee to the supervisor, set by an admin (or by a
roster import that creates the account). A supervisor sees only the people who name them.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite takes REFERENCES in ADD COLUMN, but not the ALTER ... ADD CONSTRAINT that
        # Alembic sends; a batch rebuild instead would drop users under the foreign keys of
        # every table that names a person, which SQLite refuses once there is data.
        # A database downgraded past here keeps the column (see downgrade): use it again.
        if "supervisor_id" not in {
            c["name"] for c in sa.inspect(op.get_bind()).get_columns("users")
        }:
            op.execute("ALTER TABLE users ADD COLUMN supervisor_id INTEGER REFERENCES users (id)")
    else:
        op.add_column("users", sa.Column("supervisor_id", sa.Integer(), sa.ForeignKey("users.id")))
    op.create_index("ix_users_supervisor_id", "users", ["supervisor_id"])


def downgrade() -> None:
    op.drop_index("ix_users_supervisor_id", "users")
    # DROP COLUMN (SQLite 3.35 and later) refuses a column with a foreign key, so on SQLite
    # the column stays, unused and emptied, and the earlier code never reads it.
    op.execute("UPDATE users SET supervisor_id = NULL")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("users", "supervisor_id")
