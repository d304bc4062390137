"""Supervisors: the people who name someone as supervisor, and what waits for them."""
