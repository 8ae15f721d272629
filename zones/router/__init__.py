"""The router: this zone's children, the client index, and the instances routed down the tree.

Its sub-packages, lowest first (each may import only those before it):

- `children/`: the registry of children and the ways to reach one: tables,
  queries, schemas of `/zones` and `/zones/info`, the `ChildClient`, the
  tokens held at children, forwarding a caller's request, child filters.
- `index/`: the client index: per client, whether this zone or which children
  hold its instances, the lookup rule over it, and the news zones exchange.
- `instances/`: instances: create, find, list, move and delete through the
  tree, placement, mappings and the routing cache, `zones reindex`.
- `following/` and `lookup/`, side by side at the top:
  - `following/`: a parent and its children over time: zone-add and the
    `/zones` API, the poller and what each round records, the index sync,
    and `/zones/info` (what this zone tells its own parents);
  - `lookup/`: which zone a client should talk to: logging in, `/auth/lookup`,
    `/auth/lookup/changes`.

May import: capabilities, auth, the node's plumbing, `zones.errors`.
"""
