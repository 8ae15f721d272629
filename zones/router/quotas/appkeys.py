"""The typed key of the quotas kept in memory."""

from __future__ import annotations

from aiohttp import web

from zones.router.quotas.kept import KeptQuotas

KEPT_QUOTAS = web.AppKey("kept_quotas", KeptQuotas)
