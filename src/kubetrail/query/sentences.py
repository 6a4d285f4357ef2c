"""One plain sentence per audit event, for people who read logs at 3 a.m.

The input is a lake row (a mapping of the lake's column names to values, as
:func:`kubetrail.lake.engine.records` or the search functions return them); the output reads::

    2024-05-31 20:30:27Z kubernetes-admin (kubeadm:cluster-admins) created pod default/priv-pod
    [privileged, hostNetwork] from 10.0.0.1 using kubectl/v1.28.9 — allowed by
    ClusterRoleBinding kubeadm:cluster-admins

Parts, in order: time (received, UTC, to the second); who (the user, their telling groups,
"acting as" the impersonated user); what (a verb phrase per verb and subresource: exec and
attach with the command and container from the URI, logs, port-forward, proxy, token,
approval, scale, eviction, ephemeral containers, status); the object; body facts when the level
carried a body (privileged, host namespaces, hostPath mounts, added capabilities, role rules
with wildcards, the subjects of a binding, replicas of a scale); from where (the first source
IP) and with what (the user agent's first word); and the outcome (allowed by which binding;
denied with the reason; failed authentication; other failures with their code).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

__all__ = ["body_facts", "sentence"]

# Groups every caller of a kind has: they say nothing about who this is.
_GENERIC_GROUPS: Final = frozenset(
    {
        "system:authenticated",
        "system:unauthenticated",
        "system:serviceaccounts",
        "system:nodes",
    }
)

_VERBS: Final = {
    "get": "read",
    "list": "listed",
    "watch": "watched",
    "create": "created",
    "update": "updated",
    "patch": "patched",
    "delete": "deleted",
    "deletecollection": "deleted every",
    "proxy": "proxied to",
    "connect": "connected to",
    "impersonate": "impersonated",
    "escalate": "escalated",
    "bind": "bound",
    "approve": "approved",
    "sign": "signed",
}

_IRREGULAR: Final = {
    "endpoints": "endpoints",
    "ingresses": "ingress",
    "ingressclasses": "ingressclass",
    "networkpolicies": "networkpolicy",
    "podsecuritypolicies": "podsecuritypolicy",
    "priorityclasses": "priorityclass",
    "storageclasses": "storageclass",
    "runtimeclasses": "runtimeclass",
    "leases": "lease",
    "statuses": "status",
    "componentstatuses": "componentstatus",
    "certificatesigningrequests": "certificatesigningrequest",
}

# Controllers whose pod template is at spec.template.spec (CronJobs one level deeper).
_TEMPLATED: Final = frozenset(
    {"deployments", "daemonsets", "statefulsets", "replicasets", "jobs", "replicationcontrollers"}
)


def singular(resource: str) -> str:
    """``pods`` → ``pod``, ``networkpolicies`` → ``networkpolicy``, ``endpoints`` stays."""
    if resource in _IRREGULAR:
        return _IRREGULAR[resource]
    if resource.endswith("ies"):
        return resource[:-3] + "y"
    if resource.endswith(("sses", "shes", "ches", "xes")):
        return resource[:-2]
    if resource.endswith("s") and not resource.endswith("ss"):
        return resource[:-1]
    return resource


@functools.cache
def _namespaced(group: str, resource: str) -> bool | None:
    """Whether a built-in resource is namespaced (None for CRDs and unknown ones)."""
    from kubetrail.catalog.discovery import load_discovery
    from kubetrail.policy.validate import NEWEST, KubeVersion

    info = load_discovery(KubeVersion(*NEWEST)).lookup(group, resource)
    return None if info is None else info.namespaced


def _when(value: object) -> str:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    if isinstance(value, str) and len(value) >= 19:
        return value[:10] + " " + value[11:19] + "Z"
    return "(no time)"


def _groups(groups: Iterable[str] | None) -> list[str]:
    telling = [
        g
        for g in groups or ()
        if g not in _GENERIC_GROUPS and not g.startswith("system:serviceaccounts:")
    ]
    return telling[:2] + (["…"] if len(telling) > 2 else [])


def _who(row: Mapping[str, Any]) -> str:
    name = row.get("user_name") or "(no user)"
    code = row.get("response_code")
    if name == "system:anonymous":
        who = "anonymous (system:anonymous)"
    else:
        who = str(name)
        groups = _groups(row.get("user_groups"))
        if groups:
            who += f" ({', '.join(groups)})"
    if code == 401 and name == "(no user)":
        who = "someone"
    impersonated = row.get("impersonated_name")
    if impersonated:
        who += f" acting as {impersonated}"
        groups = _groups(row.get("impersonated_groups"))
        if groups:
            who += f" ({', '.join(groups)})"
    return who


def _body(text: object) -> Any:
    if not isinstance(text, str) or not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _query(uri: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(uri).query, keep_blank_values=True)


def _object(row: Mapping[str, Any], *, plural: bool = False) -> str:
    resource = str(row.get("object_resource") or "")
    group = row.get("object_api_group")
    kind = resource if plural else singular(resource)
    if group and group not in ("", "core"):
        kind = f"{kind}.{group}" if "." not in str(group) or plural else kind
    name = row.get("object_name") or (None if plural else _created_name(row))
    namespace = row.get("object_namespace")
    if name:
        where = f"{namespace}/{name}" if namespace and resource != "namespaces" else str(name)
        return f"{kind} {where}"
    if plural:
        if namespace:
            return f"{kind} in namespace {namespace}"
        scoped = _namespaced(str(group or ""), resource)
        return kind if scoped is False else f"{kind} in all namespaces"
    return f"a {kind} in namespace {namespace}" if namespace else f"a {kind}"


def _created_name(row: Mapping[str, Any]) -> str | None:
    """A create names its object in the body, not the URI: the response's name (the server
    fills in ``generateName``), else the request's, else its ``generateName`` prefix."""
    if row.get("verb") != "create" or row.get("object_subresource"):
        return None
    for column in ("response_object", "request_object"):
        body = _body(row.get(column))
        meta = body.get("metadata") if isinstance(body, dict) else None
        if isinstance(meta, dict) and meta.get("name"):
            return str(meta["name"])
    body = _body(row.get("request_object"))
    meta = body.get("metadata") if isinstance(body, dict) else None
    if isinstance(meta, dict) and meta.get("generateName"):
        return f"{meta['generateName']}…"
    return None


def _what(row: Mapping[str, Any]) -> str:
    verb = str(row.get("verb") or "")
    resource = row.get("object_resource")
    sub = row.get("object_subresource")
    uri = str(row.get("request_uri") or "")
    if not resource:
        method = {"get": "GET", "create": "POST", "update": "PUT", "delete": "DELETE"}
        path = urlsplit(uri).path or uri or "(no path)"
        return f"requested {method.get(verb, verb.upper() or '?')} {path}"
    target = _object(row)
    name = row.get("object_name")
    namespace = row.get("object_namespace")
    pod = f"{namespace}/{name}" if namespace else str(name or "")
    if sub in ("exec", "attach"):
        query = _query(uri)
        command = " ".join(query.get("command", []))
        container = (query.get("container") or [""])[0]
        in_container = f" (container {container})" if container else ""
        if sub == "exec":
            ran = f"`{command}`" if command else "a command"
            return f"ran {ran} in pod {pod}{in_container}"
        return f"attached to pod {pod}{in_container}"
    if sub == "log":
        container = (_query(uri).get("container") or [""])[0]
        return f"read the logs of pod {pod}" + (f" (container {container})" if container else "")
    if sub == "portforward":
        ports = ",".join(_query(uri).get("ports", []))
        return f"port-forwarded to pod {pod}" + (f" (ports {ports})" if ports else "")
    if sub == "proxy":
        return f"proxied to {singular(str(resource))} {pod}"
    if sub == "token":
        return f"requested a token for service account {pod}"
    if sub == "eviction":
        return f"evicted pod {pod}"
    if sub == "ephemeralcontainers":
        return f"added an ephemeral container to pod {pod}"
    if sub == "approval":
        decision = _csr_decision(_body(row.get("request_object")))
        return f"{decision} certificate signing request {name}"
    if sub == "scale":
        return f"scaled {target}"
    if sub == "status":
        return f"{_VERBS.get(verb, verb)} the status of {target}"
    if sub == "binding":
        return f"bound pod {pod} to a node"
    if verb in ("list", "watch", "deletecollection"):
        listed = _object(row, plural=True)
        if verb == "watch" and name:
            return f"watched {target}"
        return f"{_VERBS[verb]} {listed}"
    phrase = _VERBS.get(verb, verb or "did something to")
    if sub:
        return f"{phrase} {sub} of {target}"
    return f"{phrase} {target}"


def _csr_decision(body: Any) -> str:
    conditions = ((body or {}).get("status") or {}).get("conditions") or []
    types = {c.get("type") for c in conditions if isinstance(c, dict)}
    if "Denied" in types:
        return "denied"
    if "Approved" in types:
        return "approved"
    return "changed the approval of"


def _pod_spec(resource: str, body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    spec = body.get("spec")
    if not isinstance(spec, dict):
        return None
    if resource == "pods":
        return spec
    if resource in _TEMPLATED:
        template = spec.get("template")
        inner = template.get("spec") if isinstance(template, dict) else None
        return inner if isinstance(inner, dict) else None
    if resource == "cronjobs":
        job = spec.get("jobTemplate")
        job_spec = job.get("spec") if isinstance(job, dict) else None
        template = job_spec.get("template") if isinstance(job_spec, dict) else None
        inner = template.get("spec") if isinstance(template, dict) else None
        return inner if isinstance(inner, dict) else None
    return None


def _containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        items = spec.get(key)
        if isinstance(items, list):
            out += [c for c in items if isinstance(c, dict)]
    return out


def _pod_facts(spec: Mapping[str, Any]) -> list[str]:
    facts = []
    containers = _containers(spec)
    if any((c.get("securityContext") or {}).get("privileged") is True for c in containers):
        facts.append("privileged")
    facts += [f for f in ("hostNetwork", "hostPID", "hostIPC") if spec.get(f) is True]
    added = sorted(
        {
            str(cap)
            for c in containers
            for cap in ((c.get("securityContext") or {}).get("capabilities") or {}).get("add") or []
        }
    )
    if added:
        facts.append("adds capabilities " + ",".join(added))
    if any(
        (c.get("securityContext") or {}).get("allowPrivilegeEscalation") is True for c in containers
    ):
        facts.append("allowPrivilegeEscalation")
    volumes = spec.get("volumes") if isinstance(spec.get("volumes"), list) else []
    paths = [
        str(v["hostPath"].get("path"))
        for v in volumes or []
        if isinstance(v, dict) and isinstance(v.get("hostPath"), dict)
    ]
    if paths:
        facts.append("hostPath " + ",".join(paths))
    if any(
        isinstance(p, dict) and p.get("hostPort") for c in containers for p in c.get("ports") or []
    ):
        facts.append("hostPort")
    return facts


def _rule_facts(rules: object) -> list[str]:
    if not isinstance(rules, list):
        return []
    wild = set()
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        for field in ("verbs", "resources", "apiGroups"):
            if "*" in (rule.get(field) or []):
                wild.add(f"{field} *")
    facts = [f"{len(rules)} rule(s)"]
    if wild:
        facts.append("wildcards: " + ", ".join(sorted(wild)))
    sensitive = sorted(
        {
            str(r)
            for rule in rules
            if isinstance(rule, dict)
            for r in rule.get("resources") or []
            if r in ("secrets", "pods/exec", "pods/attach", "serviceaccounts/token", "nodes/proxy")
        }
    )
    if sensitive:
        facts.append("on " + ", ".join(sensitive))
    return facts


def _binding_facts(body: Mapping[str, Any]) -> list[str]:
    role = body.get("roleRef") if isinstance(body.get("roleRef"), dict) else {}
    subjects = body.get("subjects") if isinstance(body.get("subjects"), list) else []
    who = [
        f"{s.get('kind')} {str(s['namespace']) + '/' if s.get('namespace') else ''}{s.get('name')}"
        for s in subjects or []
        if isinstance(s, dict)
    ]
    facts = []
    if role:
        facts.append(f"{role.get('kind')} {role.get('name')}")
    if who:
        facts.append("to " + ", ".join(who[:4]) + (" …" if len(who) > 4 else ""))
    return [" ".join(facts)] if facts else []


def body_facts(row: Mapping[str, Any]) -> list[str]:
    """What a write's request body (or, failing that, its response body) says that matters."""
    resource = str(row.get("object_resource") or "")
    sub = row.get("object_subresource")
    if row.get("verb") not in ("create", "update", "patch"):
        return []  # a read's body describes what was read, not what the caller did
    body = _body(row.get("request_object"))
    if not isinstance(body, dict):
        body = _body(row.get("response_object"))
    if not isinstance(body, dict):
        return []
    if sub == "scale":
        replicas = (body.get("spec") or {}).get("replicas")
        return [f"to {replicas} replicas"] if replicas is not None else []
    if sub == "ephemeralcontainers" or (resource == "pods" and not sub) or resource in _TEMPLATED:
        spec = _pod_spec("pods" if sub == "ephemeralcontainers" else resource, body)
        return _pod_facts(spec) if spec is not None else []
    if resource == "cronjobs" and not sub:
        spec = _pod_spec(resource, body)
        return _pod_facts(spec) if spec is not None else []
    if resource in ("roles", "clusterroles") and not sub:
        facts = _rule_facts(body.get("rules"))
        if body.get("aggregationRule"):
            facts.append("aggregated")
        return facts
    if resource in ("rolebindings", "clusterrolebindings") and not sub:
        return _binding_facts(body)
    if resource == "services" and not sub:
        raw = body.get("spec")
        svc: dict[str, Any] = raw if isinstance(raw, dict) else {}
        facts = [str(svc["type"])] if svc.get("type") in ("NodePort", "LoadBalancer") else []
        if svc.get("externalIPs"):
            facts.append("externalIPs " + ",".join(str(ip) for ip in svc["externalIPs"]))
        return facts
    return []


def _authz_reason(reason: str) -> str:
    """``RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to Group "z"`` → the
    binding, which is what an analyst looks up next."""
    text = reason.removeprefix("RBAC: ")
    if text.startswith("allowed by "):
        words = text.removeprefix("allowed by ").split(" of ")[0]
        return words.replace('"', "")
    return text


def _outcome(row: Mapping[str, Any]) -> str:
    code = row.get("response_code")
    decision = row.get("authz_decision")
    reason = str(row.get("authz_reason") or "")
    message = str(row.get("response_message") or "")
    if code == 401:
        return "— failed to authenticate (401)"
    if code == 403 or decision == "forbid":
        why = reason or message
        return "— DENIED (403)" + (f": {why}" if why else "")
    if isinstance(code, int) and code >= 400:
        status = row.get("response_reason") or ""
        return f"— failed ({code}{' ' + str(status) if status else ''})"
    if decision == "allow":
        return f"— allowed by {_authz_reason(reason)}" if reason else "— allowed"
    return ""


def sentence(row: Mapping[str, Any], *, with_time: bool = True) -> str:
    """The event in one line (see the module's docstring)."""
    parts = [_when(row.get("received_at"))] if with_time else []
    parts += [_who(row), _what(row)]
    facts = body_facts(row)
    if facts:
        parts.append("[" + ", ".join(facts) + "]")
    ips = row.get("source_ips") or []
    if ips:
        parts.append(f"from {ips[0]}")
    agent = str(row.get("user_agent") or "").split(" ")[0]
    if agent:
        parts.append(f"using {agent}")
    outcome = _outcome(row)
    if outcome:
        parts.append(outcome)
    return " ".join(parts)
