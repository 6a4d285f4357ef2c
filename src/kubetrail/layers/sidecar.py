"""``kubetrail sidecar``: a pod manifest with a correct streaming sidecar for a log file —
``layers-spec.md`` §5.2 (Kubernetes logging.md, "Streaming sidecar container").

The sidecar is a *native* sidecar (an init container with ``restartPolicy: Always``: it starts
before the app and streams until it exits) running ``tail -n+1 -F FILE`` — ``-n+1`` reads the
file from its start once, so nothing written before the sidecar started is lost, and ``-F``
follows the name across the writer's rotation, so nothing is read twice. It shares the file's
directory with the app through an ``emptyDir`` with a ``sizeLimit`` (a runaway file evicts the
pod instead of filling the node). A ``while true; do cat FILE; sleep N; done`` sidecar — which
re-emits the whole file every cycle — is replaced, and said so.
"""

from __future__ import annotations

import io
import posixpath
import re
from typing import Any, Final

from kubetrail.errors import InputError, UsageError

VOLUME: Final = "kubetrail-logs"
IMAGE: Final = "busybox:1.36"
_CAT_LOOP: Final = re.compile(r"while\s+true.*\bcat\b", re.DOTALL)


def _pod_spec(doc: Any) -> Any:
    """The pod spec of a Pod, or of a workload's pod template (Deployment, StatefulSet,
    DaemonSet, Job, ReplicaSet), or of a CronJob's job template."""
    if not isinstance(doc, dict):
        raise InputError("the manifest is not a YAML mapping")
    spec = doc.get("spec") or {}
    kind = doc.get("kind")
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template") or {}
    if "spec" not in template:
        raise InputError(f"{kind or 'the document'}: no pod spec (spec or spec.template.spec)")
    return template["spec"]


def _name(container: str, path: str) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", posixpath.basename(path).lower()).strip("-") or "log"
    return f"{container}-{base}"[:63].rstrip("-")


def is_cat_loop(container: Any) -> bool:
    text = " ".join(
        str(x) for x in [*(container.get("command") or []), *(container.get("args") or [])]
    )
    return bool(_CAT_LOOP.search(text))


def add_sidecar(
    manifest: str,
    log_file: str,
    *,
    container: str | None = None,
    image: str = IMAGE,
    size_limit: str = "1Gi",
) -> tuple[str, list[str]]:
    """(the manifest with the sidecar, what was done in words). Running it again on its own
    output changes nothing."""
    from ruamel.yaml import YAML

    if not posixpath.isabs(log_file) or log_file.endswith("/"):
        raise UsageError(f"--log-file {log_file!r}: give the file's absolute path in the pod")
    yaml = YAML()
    yaml.preserve_quotes = True
    try:
        doc = yaml.load(manifest)
    except Exception as exc:  # ruamel raises many kinds; all mean the same to the user
        raise InputError(f"the manifest is not YAML: {exc}") from exc
    spec = _pod_spec(doc)
    apps = spec.get("containers") or []
    if not apps:
        raise InputError("the pod has no containers")
    names = [c.get("name") for c in apps]
    if container is not None and container not in names:
        raise UsageError(f"--container {container!r}: the pod has {', '.join(map(str, names))}")
    app = apps[names.index(container)] if container else apps[0]
    directory = posixpath.dirname(log_file)
    said: list[str] = []

    # The file's directory on a volume both containers mount: the app's own, or a new emptyDir.
    mount = next(
        (
            m
            for m in app.get("volumeMounts") or []
            if m.get("mountPath", "").rstrip("/") == directory
        ),
        None,
    )
    if mount is None:
        volumes = spec.setdefault("volumes", [])
        if not any(v.get("name") == VOLUME for v in volumes):
            volumes.append({"name": VOLUME, "emptyDir": {"sizeLimit": size_limit}})
            said.append(f"added the emptyDir volume {VOLUME} (sizeLimit {size_limit})")
        app.setdefault("volumeMounts", []).append({"name": VOLUME, "mountPath": directory})
        said.append(f"mounted it in {app['name']} at {directory}")
        volume_name = VOLUME
    else:
        volume_name = mount["name"]

    # Cat loops re-emit the whole file every cycle: replaced.
    for group in ("containers", "initContainers"):
        kept = [c for c in spec.get(group) or [] if not is_cat_loop(c)]
        said.extend(
            f"removed {gone.get('name')}: a cat loop re-emits the whole file every cycle "
            "(each line k times after k cycles, stamped with the wrong time)"
            for gone in spec.get(group) or []
            if is_cat_loop(gone)
        )
        if group in spec:
            spec[group] = kept

    name = _name(str(app["name"]), log_file)
    command = ["tail", "-n+1", "-F", log_file]
    inits = spec.setdefault("initContainers", [])
    if any(c.get("command") == command for c in inits):
        said.append(f"a streaming sidecar for {log_file} is already there: nothing to add")
    else:
        inits.append(
            {
                "name": name,
                "image": image,
                "restartPolicy": "Always",
                "command": command,
                "volumeMounts": [{"name": volume_name, "mountPath": directory, "readOnly": True}],
                "resources": {
                    "requests": {"cpu": "10m", "memory": "16Mi"},
                    "limits": {"memory": "64Mi"},
                },
            }
        )
        said.append(
            f"added the native sidecar {name}: tail -n+1 -F {log_file} (kubectl logs "
            f"POD -c {name}); it needs Kubernetes 1.29 or later (SidecarContainers)"
        )
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue(), said
