"""Per-client quotas: the limits set at a zone, and the rule that holds creates to them.

Owns the `quotas` table (`models`), the copy of it kept in memory between the
commits that change it (`kept`), the rule a create or move entering this zone
is checked by (`rule`), and the `/quotas/{client}` endpoints (`handlers`).
Usage comes from the client index (zones.router.index.usage): this zone's own
instances and each child's last report, so checking costs no child a call.

May import: `zones.router.index`, `zones.router.children`, the node's plumbing
(database, commits, HTTP declarations), `zones.capabilities.values` and
`zones.errors`. Not `zones.router.instances`, which calls it.
"""
