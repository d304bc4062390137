"""Email: the outbox, what is sent to whom and why, and delivery over SMTP."""
