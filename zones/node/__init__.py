"""The zone node: the plumbing every feature stands on, and at the top what assembles them.

At the bottom of the package's layers (pyproject.toml, `[tool.importlinter]`),
importing nothing from the features but the capability algebra, which sits
lower still (the settings validate the zone's static capabilities with it):

- `config`: the one typed settings object, read from `node.toml`;
- `database`, `identity`, `migrations/`: the engine, sessions and schema, the
  statements built once that hot paths run on Core, and the zone's own uuid;
- `commits`: what runs once a transaction has committed, how memory's copies
  (live hosts, children, `/zones/info`, lookup answers) follow the database;
- `fields`: the validated field types shared by settings and request models;
- `appkeys`: the keys of the node's own resources on the app;
- `http/`: the HTTP plumbing: declared endpoints, callers and roles, bodies,
  problem+json, request ids, the OpenAPI document.

At the top, importing every feature:

- `app`: `create_app(settings)`, the one place a zone is built;
- `tables`: every table, for Alembic and the schema test;
- `launch/`: topologies, `zones up`/`status`/`down`, the deployment, the host agent;
- `cli`: the `zones` command.
"""
