"""This zone's children: who they are, what they last reported, and how to reach them.

Owns the child tables (`child_zones` and the typed rows of each child's last
answer), the queries on them (`registry`), the request and answer models of
`/zones` and `/zones/info` (`schemas`), `GET /zones` filters (`filters`), the
`ChildClient` (`http`: the one boundary where aiohttp errors and timeouts
become ours), the tokens this zone holds at each child (`tokens`), and
forwarding a caller's request to a child with both sets of credentials
(`forwarding`).

May import: capabilities, auth, the node's plumbing, `zones.errors`; nothing
else of the router.
"""
