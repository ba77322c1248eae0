"""Metric definitions, the /metrics and /healthz server, and arq hooks that record outcomes."""
