"""Persisted jobs: work longer than a request (re-optimisation, imports, simulations), with
state, progress, the best result so far and cancel, visible in the API, the pages and the CLI."""
