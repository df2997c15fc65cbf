"""PostgreSQL: the bundled server, connections, and the migration runner."""
