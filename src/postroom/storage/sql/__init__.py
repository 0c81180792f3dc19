"""SQL stores shared by the SQLite and PostgreSQL backends."""
