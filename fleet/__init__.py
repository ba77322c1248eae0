"""The keeper fleet's runtime: settings, what a worker builds once, leases, fleet membership,
the liquidator's price trigger and fast path, the Redis connection, logs and the observer."""
