"""The zone node: the aiohttp app, its configuration, its database and `zones serve`."""
