"""Benchmarks: each prints its figures beside a minimal aiohttp floor measured in the same run."""
