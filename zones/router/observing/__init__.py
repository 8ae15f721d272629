"""How a zone is watched from outside: `GET /metrics` for Prometheus.

Owns the scrape endpoint, who may read it, and the series read from the database at
each scrape (children's states, hosts, instances, free room) beside the counters and
histograms `zones.node.metrics` keeps (`scrape`).

May import: `zones.router.instances`, `zones.router.children`, capabilities, auth, the node's
plumbing, `zones.errors`.
"""
