"""The client index: per client, whether this zone or which of its children hold its instances.

Owns the index tables (`models`), seed 004's lookup rule read from them in one
statement (`answers`), the writes every instance and mapping change makes with
them in its own transaction (`updates`), and the news a zone sends its parent
(`X-Zones-Lookup`, `/auth/lookup/changes`); each client's answer kept in
memory between the commits that change it (`kept`); each client's usage in
this subtree (instances, resource sums), told up with the news (`usage`).

May import: `zones.router.children` (the child tables it points at), the
node's database, `zones.capabilities.values` (the resource key pattern) and
`zones.errors`. It is storage and the rule over it: no HTTP, no auth.
"""
