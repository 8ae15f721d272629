"""Launching deployments: topology files, `zones up`/`status`/`down`, the deployment, host agents.

Everything here works from outside the zones, as an operator would: it starts
`zones serve` processes and talks to them only through their public API.

May import: the node's plumbing (`config`, `fields`), `zones.errors`, the
capability algebra. Only `zones.node.cli` imports it.
"""
