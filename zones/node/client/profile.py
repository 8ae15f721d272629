"""The login profile: which zone to talk to and the token to send, kept between commands.

    $ZONES_CONFIG_DIR/profile.json           when set (tests, several identities)
    $XDG_CONFIG_HOME/zones/profile.json      else, when XDG_CONFIG_HOME is set
    ~/.config/zones/profile.json             else

The file holds a bearer token, so it is readable by its owner only (0600, in a 0700
directory), and it is written whole or not at all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from zones.node.client.problems import ClientError

FILE_NAME = "profile.json"


@dataclass(frozen=True)
class Profile:
    """What `zones login` learnt: where, as whom, and the token until when."""

    url: str
    username: str
    token: str
    expires_at: str | None = None


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    if environ.get("ZONES_CONFIG_DIR"):
        return Path(environ["ZONES_CONFIG_DIR"])
    if environ.get("XDG_CONFIG_HOME"):
        return Path(environ["XDG_CONFIG_HOME"]) / "zones"
    return Path.home() / ".config" / "zones"


def profile_path() -> Path:
    return config_dir() / FILE_NAME


def load_profile() -> Profile | None:
    """The saved profile, or None when there is none yet."""
    path = profile_path()
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ClientError(f"cannot read the profile {path}: {exc}") from None
    try:
        return Profile(
            **{key: document[key] for key in ("url", "username", "token")},
            expires_at=document.get("expires_at"),
        )
    except (KeyError, TypeError):
        raise ClientError(f"the profile {path} is not one `zones login` wrote") from None


def save_profile(profile: Profile) -> Path:
    """Write the profile (mode 0600) through a file renamed into place."""
    path = profile_path()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_name(f".{FILE_NAME}.{os.getpid()}")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(asdict(profile), file, indent=2)
        os.chmod(partial, 0o600)
        os.replace(partial, path)
    except OSError as exc:
        raise ClientError(f"cannot write the profile {path}: {exc.strerror or exc}") from None
    return path
