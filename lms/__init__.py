"""SOP course module system: courses, learning, quizzes, certificates and cohorts."""
