"""Accounts: people, roles, counties, passwords and sign-in sessions."""
