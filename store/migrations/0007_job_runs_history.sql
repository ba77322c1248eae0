-- job_runs becomes an append-only history: every try is a row of its own, keyed by a run id
-- the worker draws for it, so that a re-enqueued id's try 1 (or arq's rerun of a try whose
-- worker died) adds a row instead of overwriting the earlier one under the same (job_id, try).
-- Rows already there get a run id each, as does a row written without one (by hand); the
-- columns the runbook and `keepernet status` read are unchanged.
ALTER TABLE job_runs ADD COLUMN run_id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE job_runs DROP CONSTRAINT job_runs_pkey;
ALTER TABLE job_runs ADD PRIMARY KEY (run_id);
-- a job id's tries, for the reconciler's "a later try exists" and the runbook's look-ups
CREATE INDEX job_runs_job_id_try ON job_runs (job_id, try);
-- retention deletes the rows started before a cutoff
CREATE INDEX job_runs_started ON job_runs (started_at);
