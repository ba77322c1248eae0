"""arq WorkerSettings per role, cron schedules, and the operator CLI."""
