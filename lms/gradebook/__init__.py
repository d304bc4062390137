"""A trainer's gradebook: one learner of a cohort, their attempts, and what a trainer may do."""
