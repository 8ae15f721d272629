"""The node's settings: one frozen, typed object, loaded and validated once at start.

`load_settings` reads `node.toml` (and `ZONES_ADMIN_PASSWORD` from the
environment it is given); nothing else in the node reads files or the
environment for configuration. Relative paths resolve against the directory of
the configuration file, so a config and its database can live side by side.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from zones.capabilities.reserved import parse_reserved
from zones.capabilities.values import CapabilityValue, parse_capabilities
from zones.errors import ConfigError
from zones.node.fields import AccountName, AllowedChild, HttpUrl, ZoneName

ADMIN_PASSWORD_ENV = "ZONES_ADMIN_PASSWORD"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

WORKERS_NEED_POSTGRESQL = (
    "{workers} workers need a PostgreSQL database (zone.database ="
    ' "postgresql+asyncpg://..."): SQLite takes one writing process, so a zone on'
    " SQLite runs as one worker"
)

PositiveSeconds = Annotated[float, Field(gt=0, le=86400)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ZoneSettings(_Section):
    """`[zone]`: who this zone is and where it listens and stores its data."""

    name: ZoneName
    listen: str = "127.0.0.1:8100"
    url: HttpUrl | None = None
    database: str | None = None
    capabilities: dict[str, CapabilityValue] = Field(default_factory=dict)
    # Capability keys this zone keeps its whole subtree for: only instances whose requirements
    # name every one of them are placed here or below (zones.capabilities.reserved).
    reserved: tuple[str, ...] = ()
    secrets_dir: Path | None = None
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024, le=64 * 1024 * 1024)
    # Worker processes serving the zone behind its one address (zones.node.supervisor); more
    # than one needs PostgreSQL. `zones serve --workers N` overrides it.
    workers: int = Field(default=1, ge=1, le=64, strict=True)
    # On PostgreSQL: the connections each worker keeps open for its statements; requests
    # beyond them wait their turn (zones.node.workers.connections).
    database_connections: int = Field(default=10, ge=1, le=1000, strict=True)
    # A client must send a request's headers within header_timeout of starting it (or of
    # connecting), and its body within body_timeout; a worker holds at most
    # max_connections client connections at once and closes any beyond them at once.
    header_timeout: PositiveSeconds = 10.0  # keep it above 4 s (zones.node.http.server)
    body_timeout: PositiveSeconds = 30.0
    max_connections: int = Field(default=1024, ge=1, le=1_000_000, strict=True)

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        split_listen(value)
        return value

    @field_validator("capabilities", mode="before")
    @classmethod
    def _check_capabilities(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise ValueError("must be a table of key = value")
        return parse_capabilities(value)

    @field_validator("reserved", mode="before")
    @classmethod
    def _check_reserved(cls, value: Any) -> Any:
        return parse_reserved(value)

    @field_validator("database")
    @classmethod
    def _check_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite+aiosqlite://", "postgresql+")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("workers")
    @classmethod
    def _check_workers(cls, value: int, info: ValidationInfo) -> int:
        database = info.data.get("database") or ""  # declared before: validated already
        if value > 1 and not database.startswith("postgresql+"):
            raise ValueError(WORKERS_NEED_POSTGRESQL.format(workers=value))
        return value


class AuthSettings(_Section):
    """`[auth]`: the first admin, token lifetime and whose tokens this zone accepts."""

    admin_password: SecretStr | None = None
    admin_client: AccountName = "admin"
    token_ttl: PositiveSeconds = 3600.0
    trusted_issuers: tuple[HttpUrl, ...] = ()
    # How long a trusted issuer's revocations may go unread before its tokens are refused
    # ("refuse") or accepted anyway ("accept"); zones.auth.revocations.
    revocation_grace: PositiveSeconds = 300.0
    revocations_unknown: Literal["refuse", "accept"] = "refuse"


class PollSettings(_Section):
    """`[poll]`: how a parent watches its children."""

    interval: PositiveSeconds = 5.0
    timeout: PositiveSeconds = 2.0
    failures_before_offline: int = Field(default=3, ge=1, le=1000)
    # Keep a watch open on each child (its /zones/info held until it changes, at most
    # `interval`), so a change below is known here within milliseconds; false polls each
    # child every `interval` only.
    watch: bool = True


class RouterSettings(_Section):
    """`[router]`: limits on calls forwarded to children, and how current memory's copies stay."""

    child_timeout: PositiveSeconds = 5.0
    # The copies in memory (live hosts, children, /zones/info, lookup answers) follow this
    # worker's own commits at once, and are read again at the latest this long after they
    # were read (what other processes over the same database wrote).
    reread_interval: PositiveSeconds = 1.0
    # Where children may be: CIDRs ("127.0.0.0/8", "::1/128") and host patterns
    # ("*.dc.example.com"). Checked at zone-add and PUT, and on every connection to a
    # child (a name must resolve inside a CIDR unless a pattern names it). None: anywhere.
    allowed_children: tuple[AllowedChild, ...] | None = None
    # Which host or child takes a create first: "spread", the one with the most free room
    # (work spreads out), or "pack", the least room that fits (bin packing keeps whole hosts
    # and zones free); zones.router.instances.placement.
    strategy: Literal["spread", "pack"] = "spread"


class HostsSettings(_Section):
    """`[hosts]`: how heartbeats are kept."""

    # A heartbeat that only moves its host's expiry is answered from memory; the moved
    # expiries are written together this often (zones.capabilities.hosts.board).
    expiry_flush_interval: PositiveSeconds = 0.5


class MetricsSettings(_Section):
    """`[metrics]`: who may read `GET /metrics` besides admins."""

    token: SecretStr | None = None  # a scraper's bearer token
    open: bool = False  # anyone may read it (a zone on a private network)


class Settings(_Section):
    """Everything a node needs to start, with defaults resolved against `base_dir`."""

    zone: ZoneSettings
    auth: AuthSettings = Field(default_factory=AuthSettings)
    poll: PollSettings = Field(default_factory=PollSettings)
    router: RouterSettings = Field(default_factory=RouterSettings)
    hosts: HostsSettings = Field(default_factory=HostsSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    base_dir: Path = Field(default_factory=Path.cwd)

    @property
    def listen_host(self) -> str:
        return split_listen(self.zone.listen)[0]

    @property
    def listen_port(self) -> int:
        return split_listen(self.zone.listen)[1]

    @property
    def url(self) -> str:
        """How others reach this zone; also the issuer of its tokens."""
        if self.zone.url is not None:
            return self.zone.url
        host = self.listen_host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.listen_port}"

    @property
    def database_url(self) -> str:
        if self.zone.database is None:
            return f"sqlite+aiosqlite:///{self.base_dir / (self.zone.name + '.db')}"
        return resolve_sqlite_path(self.zone.database, self.base_dir)

    @property
    def secrets_dir(self) -> Path:
        """Where the signing key and the at-rest encryption key live, outside the database."""
        configured = self.zone.secrets_dir or Path(f"{self.zone.name}.keys")
        return configured if configured.is_absolute() else self.base_dir / configured

    @property
    def trusted_issuers(self) -> frozenset[str]:
        """Issuers whose tokens this zone accepts: always itself, plus the configured ones."""
        return frozenset((self.url, *self.auth.trusted_issuers))

    @property
    def on_postgresql(self) -> bool:
        return self.database_url.startswith("postgresql")

    def with_workers(self, workers: int) -> Settings:
        """The same settings with `workers` worker processes (`zones serve --workers N`)."""
        raw = self.model_dump()
        raw["zone"]["workers"] = workers
        return validate_settings(raw, source="--workers")

    def with_listen_port(self, port: int) -> Settings:
        """The same settings bound to `port` (used when `listen` asked for port 0)."""
        zone = self.zone.model_copy(update={"listen": f"{self.listen_host}:{port}"})
        return self.model_copy(update={"zone": zone})


def split_listen(listen: str) -> tuple[str, int]:
    """Split `host:port` (or `[v6]:port`) and check the port; raise ValueError if malformed."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError("must be host:port, for example 127.0.0.1:8100")
    port = int(port_text)
    if port > 65535:
        raise ValueError("port must be between 0 and 65535")
    return host.strip("[]"), port


def resolve_sqlite_path(url: str, base_dir: Path) -> str:
    """Make a relative SQLite file path relative to the config's directory."""
    prefix = "sqlite+aiosqlite:///"
    if not url.startswith(prefix):
        return url
    path = url[len(prefix) :]
    if not path or path.startswith((":memory:", "/")):
        return url
    return prefix + str(base_dir / path)


def load_settings(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate a node config file; raise ConfigError naming the bad key."""
    environ = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    if ADMIN_PASSWORD_ENV in environ:
        raw.setdefault("auth", {})
        if isinstance(raw["auth"], dict):
            raw["auth"].setdefault("admin_password", environ[ADMIN_PASSWORD_ENV])
    raw["base_dir"] = path.resolve().parent
    return validate_settings(raw, source=str(path))


def validate_settings(raw: Mapping[str, Any], source: str = "settings") -> Settings:
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: " + "; ".join(describe_config_errors(exc))) from exc


def describe_config_errors(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{key}: {message}")
    return lines
