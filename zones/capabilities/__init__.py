"""Typed capabilities: the algebra of values, aggregates and requirements, and the host registry.

The algebra (no I/O, importing nothing but each other): `values` (typed
capability values), `aggregate` (capabilities and free inventory merged up
the tree), `matching` (requirements and resources against a host or an
aggregate), `reserved` (room kept for work that names its keys, and the open
room aggregates keep apart). It sits below even the node's settings, which validate the
zone's static capabilities with it.

`hosts/`: the host registry, `/hosts` and allocations, above the plumbing and
beside auth.
"""
