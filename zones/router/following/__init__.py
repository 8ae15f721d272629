"""A parent and its children over time: zone-add, the poller, the index sync, `/zones/info`.

Owns the `/zones` endpoints (zone-add with its first contact, `probe`; change,
show, remove) and `/zones/info`, built from the zone's own hosts and
instances and its healthy children, and kept built until what it shows
changes (`info`); the poller (`poller`), the watcher (`watcher`) and what a
round writes (`rounds`), with the log lines a child's changes of state make
(`observer`); the fetch of a child's client index changes with each poll
(`index_sync`); and `GET /zones/tree`, the subtree as one document (`tree`).

May import: `zones.router.instances`, `zones.router.index`,
`zones.router.children`, capabilities, auth, the node's plumbing,
`zones.errors`. Not `zones.router.lookup`, its sibling.
"""
