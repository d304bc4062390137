"""Quizzes: knowledge checks, the pre-test and the final assessment, graded on the server."""
