"""Typed capabilities: values, the host registry, aggregation and requirement matching."""
