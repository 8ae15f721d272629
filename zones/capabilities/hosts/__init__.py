"""The host registry: heartbeats in, live hosts out, and the allocations instances take.

Owns `PUT /hosts/{name}`, `GET /hosts`, `DELETE /hosts/{name}`, the host
tables, and `allocate`/`release`, the conditional updates that keep a host's
free inventory from going negative under any concurrency; and the live hosts'
copy in memory that placement and `/zones/info` read (`board`).

May import: the capability algebra, the node's plumbing, `zones.errors`.
Nothing from auth or the router.
"""
