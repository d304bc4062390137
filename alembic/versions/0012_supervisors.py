"""A person may have a supervisor: another person, who sees their training on "My team".

Revision ID: 0012
Revises: 0011

Supervisors in county child welfare are usually not trainers or admins, so supervising is
not a role: it is a link from the supervisee to the supervisor, set by an admin (or by a
roster import that creates the account). A supervisor sees only the people who name them.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    column = sa.Column(
        "supervisor_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    if op.get_bind().dialect.name == "sqlite":
        with _sqlite_triggers_kept("users"), op.batch_alter_table("users") as batch:
            batch.add_column(column)
    else:
        op.add_column("users", column)
    op.create_index("ix_users_supervisor_id", "users", ["supervisor_id"])


@contextmanager
def _sqlite_triggers_kept(table: str) -> Iterator[None]:
    """SQLite adds a foreign key only by rebuilding the table, which drops the table's own
    triggers and is refused while other tables' triggers name it (0008's completion counts):
    set them aside for the rebuild and create them again after."""
    found = op.get_bind().execute(
        sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql LIKE :t"),
        {"t": f"%{table}%"},
    )
    triggers = list(found)
    for name, _ in triggers:
        op.execute(f'DROP TRIGGER "{name}"')
    yield
    for _, sql in triggers:
        op.execute(sql)


def downgrade() -> None:
    op.drop_index("ix_users_supervisor_id", "users")
    kept = (
        _sqlite_triggers_kept("users") if op.get_bind().dialect.name == "sqlite" else nullcontext()
    )
    with kept, op.batch_alter_table("users") as batch:
        batch.drop_column("supervisor_id")
