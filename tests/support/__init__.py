"""Real servers and filesystems for tests: a private PostgreSQL, a small tmpfs."""
