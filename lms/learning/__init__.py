"""Learning: enrollments, module progress, the evaluation, completion and "My learning"."""
