"""Where Keepernet reaches into a library's internals, one module per patch.

Each module says what it changes, why, for which pinned version, and how to remove it, and
tests/patches/ pins the behaviour it relies on (a test there fails when an upgrade changes
it). Each is applied in one place, to the objects it concerns rather than to the library's
classes, so that nothing else in the process (the tests, the localnet) sees it:

- `solana_http`: a solana-py client's HTTP session, in `chain.client` (and the localnet
  benchmark), when a client is made;
- `redis_cancellable_write`: a worker pool's connection class, in
  `fleet.redis.apply_socket_options`, which every worker and `keepernet enqueue` call at
  start-up;
- `arq_queue_score`: a queued arq job's due time, in `fleet.fast_path`;
- `arq_redis_away`: the worker class `keepernet worker` runs, in `workers.cli`.
- `arq_sentinel`: the options arq drops from a Sentinel-mode pool, set again in
  `fleet.redis.apply_socket_options`, and the connection class that asks the sentinels on each
  retry (through `redis_cancellable_write`'s Sentinel class).
"""
