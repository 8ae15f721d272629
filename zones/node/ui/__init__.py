"""The zone's web page, `GET /ui`: its live subtree for people, from the zone's public API.

Owns the page's files (`static/`: plain HTML, CSS and one script, shipped as package data;
no build step, nothing loaded from outside the zone), reading them (`assets`), and the
endpoints that serve them with a strict Content-Security-Policy (`handlers`). The page
itself logs in with `POST /auth/tokens` and reads `/zones/tree` and `/instances` as any
other client would: it is open to anyone, and shows nothing without a login.

May import: `zones.node.http` to declare its endpoints, and the layers below it.
"""
