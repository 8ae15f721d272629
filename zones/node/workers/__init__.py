"""What makes several worker processes over one PostgreSQL database one zone.

Correctness lives in the database; each worker's copies in memory follow it:

- `dsn`: the plain PostgreSQL address under a SQLAlchemy URL, for the connections
  below, which are held outside the engine's pool;
- `feed`: each commit's news (what it wrote of the watched tables), sent with
  NOTIFY from inside the transaction and heard by every other process over the
  database (LISTEN), so their copies follow within milliseconds;
- `claims`: one create, move or delete per instance id in the whole zone, a
  transaction-scoped advisory lock on the id;
- `leader`: one child follower (watcher or poller) per zone at a time, a
  session-scoped advisory lock that another worker takes over when its holder dies.

On SQLite (one process) the feed and the leadership are not needed and the
claims are the in-process locks alone.

Below the HTTP plumbing in the package's layers: it imports the database,
commits and settings only.
"""
