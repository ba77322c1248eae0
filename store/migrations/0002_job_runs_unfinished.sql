-- The reconciler asks every 10 s for each role's tries that never finished: an index on just
-- those rows keeps that cheap however long job_runs grows.
CREATE INDEX job_runs_unfinished ON job_runs (role, started_at) WHERE finished_at IS NULL;
