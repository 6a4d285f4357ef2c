"""``kubetrail deploy kubeadm``: put a policy into a kubeadm control plane's API server.

The plan (:func:`plan`) is computed without touching anything: the policy is validated, the
manifest patched in memory, the files to install listed, the diff and the matching kubeadm
ClusterConfiguration patch rendered. :func:`write` then installs it:

1. backups of the manifest (and of files it replaces) go to a directory *outside* the
   manifests directory — the kubelet runs every non-dot file there as a static pod, so a
   backup beside the manifest would become a second kube-apiserver;
2. the policy (and the webhook kubeconfig) are written atomically (temp file + rename);
3. the manifest is written through a dot-file in the same directory and renamed over the
   original, after checking that nobody changed it meanwhile.

The pod annotation ``kubetrail.io/policy-sha256`` carries the policy's hash: kube-apiserver
reads the policy only at start, so a policy-only change must change the manifest for the
kubelet to restart the API server.
"""

from __future__ import annotations

import base64
import contextlib
import difflib
import hashlib
import os
import posixpath
import stat
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Final

import msgspec

from kubetrail.deploy.manifest import (
    POLICY_HASH_ANNOTATION,
    Manifest,
    check_mount_dir,
    normal_dir,
)
from kubetrail.errors import DeployError
from kubetrail.policy.validate import LATEST, KubeVersion

DEFAULT_POLICY_PATH: Final = "/etc/kubernetes/audit/policy.yaml"
DEFAULT_LOG_PATH: Final = "/var/log/kubernetes/audit/audit.log"
DEFAULT_BACKUP_DIR: Final = "/etc/kubernetes/kubetrail-backups"
WEBHOOK_CONFIG_NAME: Final = "webhook.kubeconfig"
MANAGED_PREFIX: Final = "audit-"


class WebhookOptions(msgspec.Struct, kw_only=True, frozen=True):
    """The webhook backend: where to POST and how to authenticate (§8 of the spec notes)."""

    url: str
    ca_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    token_file: str | None = None
    batch_max_size: int = 400  # events per POST (the apiserver's default)
    batch_max_wait: str = "30s"
    # Largest POST body the receiver accepts; truncation keeps every batch under it (an
    # over-large batch is retried five times, then dropped by the apiserver).
    max_batch_bytes: int = 10 * 1024 * 1024
    max_event_bytes: int = 100 * 1024


class Options(msgspec.Struct, kw_only=True, frozen=True):
    """What ``deploy kubeadm`` sets. Defaults satisfy CIS 1.2.16–1.2.19."""

    policy_path: str = DEFAULT_POLICY_PATH
    log_path: str = DEFAULT_LOG_PATH
    maxsize: int = 100
    maxbackup: int = 10
    maxage: int = 30
    compress: bool = False
    log_format: str | None = None  # json | legacy; None leaves the apiserver's default
    webhook: WebhookOptions | None = None
    backup_dir: str = DEFAULT_BACKUP_DIR

    def audit_flags(self) -> dict[str, str]:
        """The ``--audit-*`` flags, in the order they are added."""
        flags = {
            "audit-policy-file": self.policy_path,
            "audit-log-path": self.log_path,
            "audit-log-maxage": str(self.maxage),
            "audit-log-maxbackup": str(self.maxbackup),
            "audit-log-maxsize": str(self.maxsize),
        }
        if self.compress:
            flags["audit-log-compress"] = "true"
        if self.log_format:
            flags["audit-log-format"] = self.log_format
        if self.webhook is not None:
            hook = self.webhook
            flags.update(
                {
                    "audit-webhook-config-file": self.webhook_config_path,
                    "audit-webhook-mode": "batch",
                    "audit-webhook-batch-max-size": str(hook.batch_max_size),
                    "audit-webhook-batch-max-wait": hook.batch_max_wait,
                    "audit-webhook-truncate-enabled": "true",
                    "audit-webhook-truncate-max-batch-size": str(hook.max_batch_bytes),
                    "audit-webhook-truncate-max-event-size": str(hook.max_event_bytes),
                }
            )
        return flags

    @property
    def webhook_config_path(self) -> str:
        return posixpath.join(posixpath.dirname(self.policy_path), WEBHOOK_CONFIG_NAME)

    def check(self) -> None:
        """Refuse options kube-apiserver would refuse, or mounts that are too broad."""
        for name in ("maxsize", "maxbackup", "maxage"):
            if getattr(self, name) < 0:
                raise DeployError(f"--{name} must be >= 0 (kube-apiserver refuses negatives)")
        if self.log_format not in (None, "json", "legacy"):
            raise DeployError(f"--log-format must be json or legacy, not {self.log_format!r}")
        check_mount_dir(posixpath.dirname(self.policy_path), "the policy's directory")
        if self.log_path != "-":
            check_mount_dir(posixpath.dirname(self.log_path), "the log's directory")
        hook = self.webhook
        if hook is not None:
            if not hook.url.startswith("https://"):
                raise DeployError(f"--webhook-url must be https://, got {hook.url!r}")
            if hook.max_event_bytes <= 0 or hook.max_batch_bytes < hook.max_event_bytes:
                raise DeployError(
                    "the webhook's max batch bytes must be >= its max event bytes > 0 "
                    "(--audit-webhook-truncate-max-batch-size >= -max-event-size)"
                )
            if hook.batch_max_size <= 0:
                raise DeployError("--webhook-batch-max-size must be > 0")
            if bool(hook.client_cert_file) != bool(hook.client_key_file):
                raise DeployError("--webhook-client-cert and --webhook-client-key go together")
            if hook.client_cert_file and hook.token_file:
                raise DeployError("use a client certificate or a token file, not both")


class FileChange(msgspec.Struct, frozen=True):
    """A file to install with its content and mode."""

    path: str
    content: bytes
    mode: int


class Plan(msgspec.Struct, kw_only=True, frozen=True):
    """Everything ``deploy kubeadm`` would do, computed without side effects."""

    manifest_path: str
    old_manifest: str
    new_manifest: str
    policy_sha256: str
    files: list[FileChange]
    options: Options

    @property
    def manifest_changed(self) -> bool:
        return self.old_manifest != self.new_manifest

    def files_changed(self) -> list[FileChange]:
        """Files whose content on disk differs (or that do not exist)."""
        out = []
        for change in self.files:
            try:
                current = Path(change.path).read_bytes()
            except OSError:
                current = None
            if current != change.content:
                out.append(change)
        return out

    @property
    def changed(self) -> bool:
        return self.manifest_changed or bool(self.files_changed())

    def diff(self) -> str:
        """Unified diff of the manifest (and a line per installed file)."""
        lines = list(
            difflib.unified_diff(
                self.old_manifest.splitlines(keepends=True),
                self.new_manifest.splitlines(keepends=True),
                fromfile=self.manifest_path,
                tofile=self.manifest_path,
            )
        )
        text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
        for change in self.files_changed():
            text += f"install {change.path} ({len(change.content):,} bytes, mode {change.mode:o})\n"
        return text


def _read_text(path: str, what: str) -> str:
    p = Path(path)
    if p.is_symlink():
        raise DeployError(
            f"{path}: is a symlink; kubetrail replaces the file atomically and would break the "
            "link — edit the file it points to instead"
        )
    try:
        return p.read_text(encoding="utf-8")
    except IsADirectoryError as exc:
        raise DeployError(f"{path}: is a directory, expected the {what}") from exc
    except OSError as exc:
        raise DeployError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise DeployError(f"{path}: the {what} is not UTF-8 text") from exc


def _webhook_kubeconfig(hook: WebhookOptions) -> bytes:
    """The kubeconfig-format file for ``--audit-webhook-config-file``.

    Credentials are embedded (``*-data``, ``token``) so that only this one file needs to be
    visible inside the API server pod; it is installed with mode 0600.
    """
    from ruamel.yaml import YAML

    def data(path: str, what: str) -> str:
        try:
            return base64.b64encode(Path(path).read_bytes()).decode()
        except OSError as exc:
            raise DeployError(f"{path}: cannot read the {what}: {exc.strerror}") from exc

    cluster: dict[str, object] = {"server": hook.url}
    if hook.ca_file:
        cluster["certificate-authority-data"] = data(hook.ca_file, "webhook CA")
    user: dict[str, object] = {}
    if hook.client_cert_file and hook.client_key_file:
        user["client-certificate-data"] = data(hook.client_cert_file, "client certificate")
        user["client-key-data"] = data(hook.client_key_file, "client key")
    if hook.token_file:
        try:
            user["token"] = Path(hook.token_file).read_text().strip()
        except OSError as exc:
            raise DeployError(f"{hook.token_file}: cannot read the token: {exc.strerror}") from exc
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubetrail", "cluster": cluster}],
        "users": [{"name": "kube-apiserver", "user": user}],
        "contexts": [
            {"name": "kubetrail", "context": {"cluster": "kubetrail", "user": "kube-apiserver"}}
        ],
        "current-context": "kubetrail",
    }
    import io

    out = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.dump(doc, out)
    return (
        "# Written by kubetrail deploy: --audit-webhook-config-file\n" + out.getvalue()
    ).encode()


def patch_manifest(manifest: Manifest, options: Options, policy_sha256: str) -> None:
    """Apply the audit flags, mounts and the policy-hash annotation to ``manifest``."""
    for name, value in options.audit_flags().items():
        manifest.set_flag(name, value)
    if options.webhook is None:
        for name in list(manifest.flags()):
            if name.startswith("audit-webhook-"):
                manifest.remove_flag(name)
    manifest.ensure_host_mount(
        "audit-policy",
        posixpath.dirname(options.policy_path),
        read_only=True,
        path_type="DirectoryOrCreate",
    )
    if options.log_path != "-":
        manifest.ensure_host_mount(
            "audit-log",
            posixpath.dirname(options.log_path),
            read_only=False,
            path_type="DirectoryOrCreate",
        )
    manifest.set_annotation(POLICY_HASH_ANNOTATION, policy_sha256)


def plan(
    manifest_path: str,
    policy_file: str,
    options: Options,
    *,
    kube_version: KubeVersion | None = None,
) -> Plan:
    """What deploying ``policy_file`` with ``options`` would change; refuses bad input."""
    from kubetrail.policy.load import load_policy, read_policy_bytes

    options.check()
    manifests_dir = normal_dir(str(Path(manifest_path).parent.resolve()))
    for path, what in ((options.policy_path, "--policy-path"), (options.log_path, "--log-path")):
        if path != "-" and normal_dir(posixpath.dirname(path)) == manifests_dir:
            raise DeployError(
                f"{what} {path} is in the manifests directory: the kubelet would try to run "
                "it as a static pod"
            )
    if normal_dir(str(Path(options.backup_dir).resolve())) == manifests_dir:
        raise DeployError(
            "--backup-dir must be outside the manifests directory: the kubelet runs every "
            "non-dot file there, so a backup would become a second kube-apiserver"
        )
    # Raises PolicyError with every diagnostic when kube-apiserver would refuse the policy.
    load_policy(policy_file, kube_version=kube_version or LATEST)
    policy_bytes = read_policy_bytes(policy_file)
    digest = hashlib.sha256(policy_bytes).hexdigest()
    old = _read_text(manifest_path, "kube-apiserver manifest")
    manifest = Manifest(old, manifest_path)
    patch_manifest(manifest, options, digest)
    files = [FileChange(options.policy_path, policy_bytes, 0o600)]
    if options.webhook is not None:
        files.append(
            FileChange(options.webhook_config_path, _webhook_kubeconfig(options.webhook), 0o600)
        )
    return Plan(
        manifest_path=manifest_path,
        old_manifest=old,
        new_manifest=manifest.dump(),
        policy_sha256=digest,
        files=files,
        options=options,
    )


# ---------------------------------------------------------------------------------------------
# Writing


def _atomic_write(path: str, content: bytes, mode: int) -> None:
    """Write ``path`` through a dot-file in the same directory, then rename over it."""
    directory, name = os.path.split(path)
    tmp = os.path.join(directory or ".", f".{name}.kubetrail-tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.write(fd, content)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise DeployError(f"{path}: cannot write: {exc.strerror or exc}") from exc


def timestamp(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ")


class Written(msgspec.Struct, frozen=True):
    """What :func:`write` did."""

    backups: list[str]
    installed: list[str]
    manifest_written: bool


def backup(plan_: Plan, now: datetime) -> list[str]:
    """Copy the manifest and every file about to be replaced into the backup directory."""
    try:
        os.makedirs(plan_.options.backup_dir, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise DeployError(
            f"{plan_.options.backup_dir}: cannot create the backup directory: {exc.strerror}"
        ) from exc
    stamp = timestamp(now)
    saved = []
    sources = [(plan_.manifest_path, plan_.old_manifest.encode(), 0o600)]
    for change in plan_.files_changed():
        with contextlib.suppress(OSError):
            sources.append((change.path, Path(change.path).read_bytes(), change.mode))
    for path, content, mode in sources:
        target = os.path.join(plan_.options.backup_dir, f"{os.path.basename(path)}.{stamp}")
        _atomic_write(target, content, mode)
        saved.append(target)
    return saved


def install_files(plan_: Plan) -> list[str]:
    """Install the policy (and webhook config) atomically, creating their directory."""
    installed = []
    for change in plan_.files_changed():
        directory = os.path.dirname(change.path)
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise DeployError(f"{directory}: cannot create: {exc.strerror}") from exc
        _atomic_write(change.path, change.content, change.mode)
        installed.append(change.path)
    return installed


def replace_manifest(path: str, expected_old: str | None, new: str) -> None:
    """Write the manifest atomically via a dot-file, refusing if it changed meanwhile.

    ``expected_old`` None means the manifest must currently be absent (moved out by --apply).
    """
    try:
        current: str | None = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    except OSError as exc:
        raise DeployError(f"{path}: cannot read: {exc.strerror}") from exc
    if current != expected_old:
        raise DeployError(
            f"{path}: changed on disk while kubetrail worked (a concurrent edit?); nothing "
            "written — run again"
        )
    mode = 0o600
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(os.stat(path).st_mode)
    _atomic_write(path, new.encode(), mode)


def write(plan_: Plan, now: datetime) -> Written:
    """Back up, install the files, write the manifest. Restores the files on failure."""
    if not plan_.changed:
        return Written([], [], False)
    backups = backup(plan_, now)
    previous = {c.path: _read_or_none(c.path) for c in plan_.files_changed()}
    installed = install_files(plan_)
    try:
        if plan_.manifest_changed:
            replace_manifest(plan_.manifest_path, plan_.old_manifest, plan_.new_manifest)
    except DeployError:
        _restore_files(previous)
        raise
    return Written(backups, installed, plan_.manifest_changed)


def _read_or_none(path: str) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except OSError:
        return None


def _restore_files(previous: dict[str, bytes | None]) -> None:
    for path, content in previous.items():
        with contextlib.suppress(OSError, DeployError):
            if content is None:
                os.unlink(path)
            else:
                _atomic_write(path, content, 0o600)


# ---------------------------------------------------------------------------------------------
# kubeadm's ClusterConfiguration: the same settings, so that `kubeadm upgrade` keeps them


def cluster_configuration_patch(
    options: Options, api_version: str = "kubeadm.k8s.io/v1beta4"
) -> str:
    """The ``apiServer`` part of a ClusterConfiguration that produces the same manifest.

    v1beta4 (kubeadm 1.31+) lists extraArgs as name/value pairs; v1beta3 as a map.
    """
    from ruamel.yaml import YAML

    flags = options.audit_flags()
    extra_args: object
    if api_version.endswith("v1beta3"):
        extra_args = dict(flags)
    else:
        extra_args = [{"name": k, "value": v} for k, v in flags.items()]
    volumes = [
        {
            "name": "audit-policy",
            "hostPath": posixpath.dirname(options.policy_path),
            "mountPath": posixpath.dirname(options.policy_path),
            "readOnly": True,
            "pathType": "DirectoryOrCreate",
        }
    ]
    if options.log_path != "-":
        volumes.append(
            {
                "name": "audit-log",
                "hostPath": posixpath.dirname(options.log_path),
                "mountPath": posixpath.dirname(options.log_path),
                "readOnly": False,
                "pathType": "DirectoryOrCreate",
            }
        )
    doc = {
        "apiVersion": api_version,
        "kind": "ClusterConfiguration",
        "apiServer": {"extraArgs": extra_args, "extraVolumes": volumes},
    }
    import io

    out = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.dump(doc, out)
    return out.getvalue()


def cluster_configuration_args(text: str, path: str) -> dict[str, str] | None:
    """The apiServer extraArgs of the ClusterConfiguration in a kubeadm config file
    (None if the file has no ClusterConfiguration)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        docs = list(YAML(typ="safe", pure=True).load_all(text))
    except YAMLError as exc:
        raise DeployError(f"{path}: not valid YAML: {exc}") from exc
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "ClusterConfiguration":
            api = doc.get("apiServer") or {}
            args = api.get("extraArgs") or {}
            if isinstance(args, list):
                return {
                    str(a.get("name")): str(a.get("value"))
                    for a in args
                    if isinstance(a, dict) and "name" in a
                }
            if isinstance(args, dict):
                return {str(k): str(v) for k, v in args.items()}
            return {}
    return None


def merge_cluster_configuration(text: str, path: str, options: Options) -> str:
    """``text`` (a kubeadm config file) with its ClusterConfiguration's apiServer updated."""
    import io

    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    try:
        docs = list(yaml.load_all(text))
    except YAMLError as exc:
        raise DeployError(f"{path}: not valid YAML: {exc}") from exc
    target = None
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "ClusterConfiguration":
            target = doc
    if target is None:
        raise DeployError(f"{path}: no ClusterConfiguration document to update")
    api_version = str(target.get("apiVersion", "kubeadm.k8s.io/v1beta4"))
    wanted = YAML(typ="safe", pure=True).load(cluster_configuration_patch(options, api_version))
    api = target.get("apiServer")
    if api is None:
        target["apiServer"] = api = CommentedMap()
    args = api.get("extraArgs")
    flags = options.audit_flags()
    if isinstance(args, list):
        by_name = {a.get("name"): a for a in args if isinstance(a, dict)}
        for name, value in flags.items():
            if name in by_name:
                by_name[name]["value"] = value
            else:
                args.append(CommentedMap([("name", name), ("value", value)]))
    else:
        if args is None:
            api["extraArgs"] = args = (
                CommentedMap() if api_version.endswith("v1beta3") else CommentedSeq()
            )
        if isinstance(args, dict):
            for name, value in flags.items():
                args[name] = value
        else:
            for name, value in flags.items():
                args.append(CommentedMap([("name", name), ("value", value)]))
    volumes = api.get("extraVolumes")
    if volumes is None:
        api["extraVolumes"] = volumes = CommentedSeq()
    existing = {v.get("name"): v for v in volumes if isinstance(v, dict)}
    for volume in wanted["apiServer"]["extraVolumes"]:
        if volume["name"] in existing:
            existing[volume["name"]].update(volume)
        else:
            volumes.append(CommentedMap(volume.items()))
    out = io.StringIO()
    yaml.dump_all(docs, out)
    return out.getvalue()


Sleep = Callable[[float], None]
