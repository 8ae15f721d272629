"""Instances through the tree: create, show, list, move and delete, wherever they live below.

Owns the instance and mapping tables (`models`) and how instances are shown
(`views`), the `/instances` endpoints (`handlers`), the instances held here
(`local`), placement on own hosts and candidate children (`placement`), a
request's way through this zone (`route`, `new_instance`), creating
(`creating`), mappings and their cache (`mappings`, `cache`), finding and
deleting (`finding`), merged lists (`listing`), moves (`moving`) and the
rebuild of mappings and index (`reindex`).

May import: `zones.router.index`, `zones.router.children`, capabilities,
auth, the node's plumbing, `zones.errors`.
"""
