"""What the tests (tests/) and the benchmarks (bench/) share, so that neither keeps its own copy:

- `backends`: throw-away PostgreSQL databases, Redis key prefixes, free ports;
- `processes`: app servers and a private redis-server in child processes;
- `factory`: users, numbers, purchases and SMS made through the services, the app's own write
  paths, never by writing rows by hand.

Nothing here decides whether a missing PostgreSQL or Redis skips or fails: it raises
`backends.Unavailable`, and the tests turn that into a skip, or a failure in CI
(tests/backends.py); a benchmark stops with the message. Not part of the app's package.
"""
