"""Who may call: users, passwords, tokens, signing keys and the JWKS of trusted zones.

Owns `/users`, `/.well-known/jwks.json` and token revocation (`/auth/tokens/revoke`,
`/auth/revocations`, and the watches on trusted issuers' revocations), the zone's
Ed25519 signing key and the box that encrypts children's passwords at rest, and the
token verifier that the HTTP plumbing asks who calls
(`zones.node.http.callers.Authenticator`).
Logging in is served by zones.router.lookup, since its answer names the
client's endpoint; the client index is zones.router.index.

May import: the node's plumbing (`zones.node.http`, `database`, `identity`,
`fields`, `appkeys`, `config`, `commits`, `logs`) and `zones.errors`. Nothing from
capabilities or the router.
"""
