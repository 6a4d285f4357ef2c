"""``kubetrail.toml``: the settings a user sets once (lake, cluster name, rule packs).

Looked up in this order: ``$KUBETRAIL_CONFIG``, ``./kubetrail.toml``,
``$XDG_CONFIG_HOME/kubetrail/kubetrail.toml`` (``~/.config/...``). Command-line options win over
the file. Unknown keys are refused (a typo must not silently do nothing)::

    lake = "/var/lib/kubetrail/lake"
    cluster = "prod-eu-1"
    rule_packs = ["/etc/kubetrail/rules"]
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

from kubetrail.errors import InputError


class Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    lake: str | None = None
    cluster: str | None = None
    rule_packs: list[str] = msgspec.field(default_factory=list)
    source: str | None = None  # the file it came from (not a key of the file)


def config_path(env: Mapping[str, str], cwd: Path) -> Path | None:
    explicit = env.get("KUBETRAIL_CONFIG")
    if explicit:
        return Path(explicit)
    local = cwd / "kubetrail.toml"
    if local.is_file():
        return local
    base = Path(env.get("XDG_CONFIG_HOME") or Path(env.get("HOME", "~")).expanduser() / ".config")
    user = base / "kubetrail" / "kubetrail.toml"
    return user if user.is_file() else None


def load_config(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Config:
    """The configuration in effect (empty if there is no file)."""
    import tomllib

    path = config_path(os.environ if env is None else env, Path.cwd() if cwd is None else cwd)
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path=str(path)) from exc
    if "source" in data:
        raise InputError("unknown key 'source'", path=str(path))
    try:
        config = msgspec.convert(data, Config)
    except msgspec.ValidationError as exc:
        raise InputError(f"{exc} (known keys: lake, cluster, rule_packs)", path=str(path)) from exc
    return msgspec.structs.replace(config, source=str(path))
