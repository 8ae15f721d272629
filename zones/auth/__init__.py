"""Users, passwords, tokens, keys, roles and (later) the lowest-zone lookup."""
