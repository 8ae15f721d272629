"""Imports every table so that `Base.metadata` knows the whole schema (for Alembic)."""

from zones.auth.models import User
from zones.node.identity import ZoneIdentity
from zones.router.models import ChildZone

__all__ = ["ChildZone", "User", "ZoneIdentity"]
