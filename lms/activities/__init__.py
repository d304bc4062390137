"""Field activities: work done on the job, submitted by the learner, signed off by a reviewer."""
