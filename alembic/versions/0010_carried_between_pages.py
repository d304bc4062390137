"""What one page hands the next across a redirect, kept with the browser's session.

Revision ID: 0010
Revises: 0009

Every successful form post answers with a redirect to a page (post/redirect/get), so that
reloading a page never runs an action again. A few actions produce something the next page
must show once and that cannot travel in its address: the set-your-password links of new
accounts made by a roster import or "Add to roster", and the roster file being previewed.
They are kept in `web_sessions.carried`, encrypted with a key derived from the session's
cookie token (which is never stored), so the database alone cannot read the links; signing
out or the session expiring deletes them with the row.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ADD COLUMN: no table rebuild on SQLite, so the triggers of 0008 and 0009 stay.
    op.add_column("web_sessions", sa.Column("carried", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("carried")
