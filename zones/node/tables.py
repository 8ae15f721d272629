"""Imports every table so that `Base.metadata` knows the whole schema (for Alembic)."""

from zones.auth.models import TokenRevocation, User
from zones.capabilities.hosts.models import Host, HostResource
from zones.node.identity import ZoneIdentity
from zones.router.children.models import ChildCapability, ChildFree, ChildZone
from zones.router.index.models import ClientChild, ClientIndex, IndexRebuild
from zones.router.instances.models import Instance, InstanceMapping
from zones.router.quotas.models import QuotaRow

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
    "QuotaRow",
    "TokenRevocation",
    "User",
    "ZoneIdentity",
]
