"""Reaching any zone of the subtree through this one: `?zone=NAME` on every endpoint.

Owns the middleware that serves `?zone=` here when it names this zone and relays the
call, as it came, to the child whose subtree holds that name otherwise (`relay`).

May import: `zones.router.instances` (the children in memory, the budget rule),
`zones.router.children` (the child client, its tokens, forwarding headers), auth, the
node's plumbing, `zones.errors`.
"""
