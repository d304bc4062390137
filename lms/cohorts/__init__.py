"""Cohorts: classes of learners with trainers, assigned courses, live sessions and attendance."""
