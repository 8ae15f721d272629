"""The typed key under which the app keeps the host registry's copy in memory."""

from __future__ import annotations

from aiohttp import web

from zones.capabilities.hosts.board import HostBoard

HOST_BOARD = web.AppKey("host_board", HostBoard)
