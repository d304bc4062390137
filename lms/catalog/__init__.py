"""The catalog: course folders, their validation, content versions and the course list."""
