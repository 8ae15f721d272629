"""The `zones` command as a client for people: `login`, `tree`, `zones`, `instances`,
`lookup`, `users` and `status`.

It speaks to zones over their public HTTP API only (the standard library's urllib:
a command runs one request after another, so an event loop would buy nothing), keeps
a login profile in the user's config directory, and prints tables or the API's JSON.

May import: `zones.node.launch` (the state dir `zones up` writes, for `zones status`),
`zones.node.columns` and `zones.errors`. Only `zones.node.cli` imports it.
"""
