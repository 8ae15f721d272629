"""How a zone is watched from outside: `GET /metrics` for Prometheus."""
