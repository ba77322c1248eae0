"""PostgreSQL schema migrations and the queries the jobs use."""
