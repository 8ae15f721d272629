"""Imports every table so that `Base.metadata` knows the whole schema (for Alembic)."""

from zones.auth.index_models import ClientChild, ClientIndex, IndexRebuild
from zones.auth.models import User
from zones.capabilities.models import Host, HostResource
from zones.node.identity import ZoneIdentity
from zones.router.instance_models import Instance, InstanceMapping
from zones.router.models import ChildCapability, ChildFree, ChildZone

__all__ = [
    "ClientChild",
    "ClientIndex",
    "IndexRebuild",
    "ChildCapability",
    "ChildFree",
    "ChildZone",
    "Host",
    "HostResource",
    "Instance",
    "InstanceMapping",
    "User",
    "ZoneIdentity",
]
