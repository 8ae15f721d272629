"""Reaching any zone of the subtree through this one: `?zone=NAME` on every endpoint."""
