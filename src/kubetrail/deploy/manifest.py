"""The kube-apiserver static pod manifest, edited the way a careful human would.

A round-trip YAML editor (ruamel.yaml) keeps comments, key order, quoting and the file's
indentation; only the lines that must change do. The shapes refused (each with a clear error,
the file untouched): not a Pod, more than one container, no ``command``, flags in ``args``.

Flags are ``command`` items of the form ``--name=value`` (what kubeadm writes); a flag written
as two items (``--name``, ``value``) is read too and rewritten in the one-item form.
"""

from __future__ import annotations

import io
import posixpath
import re
from collections.abc import Iterator
from typing import Any, Final

from kubetrail.errors import DeployError

# Host directories that must never be mounted whole into the API server pod.
FORBIDDEN_MOUNTS: Final = frozenset(
    {"/", "/etc", "/etc/kubernetes", "/var", "/var/log", "/root", "/home"}
)
POLICY_HASH_ANNOTATION: Final = "kubetrail.io/policy-sha256"
_SEQ_ITEM: Final = re.compile(r"^( *)- ")


def _indent_style(text: str) -> tuple[int, int]:
    """``(sequence indent, dash offset)`` as the file writes lists under a key.

    kubeadm writes ``containers:`` / ``- command:`` at the same column (offset 0); others
    indent the dash by two.
    """
    previous = ""
    for line in text.splitlines():
        match = _SEQ_ITEM.match(line)
        if match and previous.rstrip().endswith(":"):
            parent = len(previous) - len(previous.lstrip(" "))
            offset = len(match.group(1)) - parent
            return (2, 0) if offset <= 0 else (offset + 2, offset)
        if line.strip():
            previous = line
    return 2, 0


def normal_dir(path: str) -> str:
    """A host directory as compared against :data:`FORBIDDEN_MOUNTS` (no trailing slash)."""
    norm = posixpath.normpath(path)
    return "/" if norm in ("/", "//") else norm


def check_mount_dir(path: str, what: str) -> None:
    """Refuse a host directory that is too broad to mount into the API server."""
    if not path.startswith("/"):
        raise DeployError(f"{what} must be an absolute path, got {path!r}")
    if normal_dir(path) in FORBIDDEN_MOUNTS:
        raise DeployError(
            f"{what} {path!r} would mount {normal_dir(path)} whole into the API server; "
            "use a dedicated subdirectory (e.g. /etc/kubernetes/audit, /var/log/kubernetes/audit)"
        )


class Flag:
    """One flag in ``command``: its position(s) and value."""

    def __init__(self, name: str, value: str, index: int, items: int) -> None:
        self.name, self.value, self.index, self.items = name, value, index, items


class Manifest:
    """A kube-apiserver static pod manifest, parsed for round-trip editing."""

    def __init__(self, text: str, path: str = "<manifest>") -> None:
        from ruamel.yaml import YAML
        from ruamel.yaml.error import YAMLError

        self.path = path
        self.original = text
        self._yaml = YAML(typ="rt")
        self._yaml.preserve_quotes = True
        self._yaml.width = 4096
        sequence, offset = _indent_style(text)
        self._yaml.indent(mapping=2, sequence=sequence, offset=offset)
        # kubeadm writes `creationTimestamp: null`; ruamel would write an empty value.
        self._yaml.representer.add_representer(
            type(None),
            lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null"),
        )
        try:
            docs = list(self._yaml.load_all(text))
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            raise DeployError(f"{path}{line}: not valid YAML: {exc}") from exc
        if len(docs) != 1 or not isinstance(docs[0], dict):
            raise DeployError(f"{path}: expected one YAML document (a Pod), found {len(docs)}")
        self.doc: Any = docs[0]
        self._check_shape()

    # -- shape ---------------------------------------------------------------------------------

    def _check_shape(self) -> None:
        doc = self.doc
        if doc.get("kind") != "Pod":
            raise DeployError(f"{self.path}: kind is {doc.get('kind')!r}, expected a static Pod")
        spec = doc.get("spec")
        containers = spec.get("containers") if isinstance(spec, dict) else None
        if not isinstance(containers, list) or not containers:
            raise DeployError(f"{self.path}: spec.containers is missing or empty")
        if len(containers) != 1:
            names = ", ".join(str(c.get("name")) for c in containers if isinstance(c, dict))
            raise DeployError(
                f"{self.path}: the Pod has {len(containers)} containers ({names}); kubetrail "
                "edits the kube-apiserver static pod, which has exactly one"
            )
        container = containers[0]
        command = container.get("command") if isinstance(container, dict) else None
        if not isinstance(command, list) or not command:
            raise DeployError(
                f"{self.path}: spec.containers[0].command is missing; kubeadm starts the API "
                "server with its flags in `command` (a manifest relying on the image's "
                "entrypoint cannot be edited safely)"
            )
        if not all(isinstance(item, str) for item in command):
            raise DeployError(f"{self.path}: spec.containers[0].command must be strings")
        args = container.get("args") or []
        if any(isinstance(a, str) and a.startswith("--") for a in args):
            raise DeployError(
                f"{self.path}: spec.containers[0].args holds flags; kubetrail edits flags in "
                "`command` only (move them there, as kubeadm writes them)"
            )
        if "kube-apiserver" not in posixpath.basename(command[0]):
            raise DeployError(
                f"{self.path}: command[0] is {command[0]!r}, not kube-apiserver; is this the "
                "API server's manifest?"
            )

    @property
    def container(self) -> Any:
        return self.doc["spec"]["containers"][0]

    @property
    def command(self) -> Any:
        return self.container["command"]

    # -- flags ---------------------------------------------------------------------------------

    def _flags(self) -> Iterator[Flag]:
        command = self.command
        i = 1
        while i < len(command):
            item = command[i]
            if item.startswith("--"):
                name, eq, value = item[2:].partition("=")
                if eq:
                    yield Flag(name, value, i, 1)
                elif i + 1 < len(command) and not command[i + 1].startswith("--"):
                    yield Flag(name, command[i + 1], i, 2)
                    i += 1
                else:
                    yield Flag(name, "true", i, 1)
            i += 1

    def flags(self) -> dict[str, str]:
        """Every flag's value (the last one wins, as for Go's flag parsing)."""
        return {f.name: f.value for f in self._flags()}

    def set_flag(self, name: str, value: str) -> None:
        """Set ``--name=value``: update it in place (dropping repeats), or add it after the
        last ``--audit-`` flag (else at the end)."""
        found = [f for f in self._flags() if f.name == name]
        command = self.command
        item = f"--{name}={value}"
        if found:
            first = found[0]
            for flag in reversed(found[1:]):
                del command[flag.index : flag.index + flag.items]
            if first.items == 2:
                del command[first.index + 1]
            if command[first.index] != item:
                command[first.index] = item
            return
        audit = [f for f in self._flags() if f.name.startswith("audit-")]
        at = audit[-1].index + audit[-1].items if audit else len(command)
        command.insert(at, item)

    def remove_flag(self, name: str) -> None:
        for flag in reversed([f for f in self._flags() if f.name == name]):
            del self.command[flag.index : flag.index + flag.items]

    # -- volumes -------------------------------------------------------------------------------

    def volumes(self) -> list[Any]:
        return list(self.doc["spec"].get("volumes") or [])

    def mounts(self) -> list[Any]:
        return list(self.container.get("volumeMounts") or [])

    def mount_for(self, path: str) -> tuple[Any, Any] | None:
        """The (mount, volume) whose mountPath holds ``path`` in the container, deepest first."""
        volumes = {v.get("name"): v for v in self.volumes() if isinstance(v, dict)}
        best: tuple[Any, Any] | None = None
        for mount in self.mounts():
            mount_path = normal_dir(str(mount.get("mountPath", "")))
            inside = path == mount_path or path.startswith(mount_path.rstrip("/") + "/")
            if inside and (best is None or len(mount_path) > len(str(best[0]["mountPath"]))):
                best = (mount, volumes.get(mount.get("name")))
        return best

    def ensure_host_mount(
        self, name: str, host_dir: str, *, read_only: bool, path_type: str
    ) -> str:
        """A hostPath volume and mount of ``host_dir`` at the same path; returns its name.

        An existing volume of the same host path is reused (its mount made to match);
        otherwise a new one is added under ``name`` or ``name-2``, ``name-3``... whichever
        clashes with nothing.
        """
        from ruamel.yaml.comments import CommentedMap

        spec = self.doc["spec"]
        volumes = spec.get("volumes")
        if volumes is None:
            spec["volumes"] = volumes = []
        mounts = self.container.get("volumeMounts")
        if mounts is None:
            self.container["volumeMounts"] = mounts = []
        target = normal_dir(host_dir)
        for volume in volumes:
            host = volume.get("hostPath") if isinstance(volume, dict) else None
            if isinstance(host, dict) and normal_dir(str(host.get("path", ""))) == target:
                vol_name = volume["name"]
                for mount in mounts:
                    if mount.get("name") == vol_name:
                        if normal_dir(str(mount.get("mountPath"))) != target:
                            mount["mountPath"] = target
                        if bool(mount.get("readOnly", False)) != read_only:
                            if read_only:
                                mount["readOnly"] = True
                            else:
                                mount.pop("readOnly", None)
                        return str(vol_name)
                mounts.append(self._mount(vol_name, target, read_only))
                return str(vol_name)
        for mount in mounts:
            if normal_dir(str(mount.get("mountPath", ""))) == target:
                raise DeployError(
                    f"{self.path}: {target} is already mounted from volume "
                    f"{mount.get('name')!r}, which is not the host directory {target}"
                )
        taken = {v.get("name") for v in volumes} | {m.get("name") for m in mounts}
        chosen, n = name, 1
        while chosen in taken:
            n += 1
            chosen = f"{name}-{n}"
        mounts.append(self._mount(chosen, target, read_only))
        volume = CommentedMap()
        volume["hostPath"] = CommentedMap([("path", target), ("type", path_type)])
        volume["name"] = chosen
        volumes.append(volume)
        return chosen

    @staticmethod
    def _mount(name: str, path: str, read_only: bool) -> Any:
        from ruamel.yaml.comments import CommentedMap

        mount = CommentedMap([("mountPath", path), ("name", name)])
        if read_only:
            mount["readOnly"] = True
        return mount

    # -- annotations ---------------------------------------------------------------------------

    def annotation(self, key: str) -> str | None:
        meta = self.doc.get("metadata") or {}
        value = (meta.get("annotations") or {}).get(key)
        return None if value is None else str(value)

    def set_annotation(self, key: str, value: str) -> None:
        from ruamel.yaml.comments import CommentedMap

        meta = self.doc.get("metadata")
        if meta is None:
            self.doc["metadata"] = meta = CommentedMap()
        annotations = meta.get("annotations")
        if annotations is None:
            meta["annotations"] = annotations = CommentedMap()
        annotations[key] = value

    # -- output --------------------------------------------------------------------------------

    def dump(self) -> str:
        out = io.StringIO()
        self._yaml.dump(self.doc, out)
        return out.getvalue()
