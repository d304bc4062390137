"""Compliance: training plans from hire and role dates, their requirements and extensions."""
