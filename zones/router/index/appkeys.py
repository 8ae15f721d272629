"""The typed key of the lookup answers kept in memory."""

from __future__ import annotations

from aiohttp import web

from zones.router.index.kept import KeptAnswers

KEPT_ANSWERS = web.AppKey("kept_answers", KeptAnswers)
