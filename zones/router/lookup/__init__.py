"""Which zone a client should talk to: logging in, `/auth/lookup`, `/auth/lookup/changes`.

Answered from the client index (zones.router.index) without asking a child,
except while `zones reindex` rebuilds it (`asking`).

May import: `zones.router.instances`, `zones.router.quotas` (usage as the
changes show it), `zones.router.index`, `zones.router.children`,
capabilities, auth, the node's plumbing, `zones.errors`. Not `zones.router.following`, its sibling.
"""
