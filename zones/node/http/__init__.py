"""HTTP plumbing: how a request becomes a call of a declared endpoint, and an error an answer.

Owns the endpoint tables (routes that describe themselves in OpenAPI), the
caller's identity and the role check (`callers`: the auth layer proves
identities and plugs in as the `Authenticator`), reading bodies into pydantic
models, problem+json rendering of every error, request ids, and the node's own
endpoints (`/healthz`, `/openapi.json`).

May import: the layers below it (`zones.node.appkeys`, `config`, `identity`,
`database`, `fields`, the capability algebra) and `zones.errors`. Nothing
from auth, hosts or the router.
"""
