"""Synthetic, seeded Kubernetes API traffic: request attributes, attribute lines, audit events.

The mix of requests is calibrated on a real capture: ``hkerma-perfspec/audit-logs.csv`` (a
kubeadm cluster with three nodes while Helm installed and removed public charts; 16,563 events
in 244 s; CC-BY-4.0, Kermabon-Bobinnec et al., PerfSPEC, IEEE TDSC 2024). Every row of the
capture is resolved from its ``requestURI`` with kubetrail's own port of kube-apiserver's
RequestInfo resolver and counted as one *activity*: who (user), what (verb), on what
(group/version/resource/subresource, or a non-resource path), with the namespaces and object
names that activity used. Sampling activities by their counts reproduces the capture's joint
mix of users, verbs, resources, namespaces and paths, not just each marginal.

The same table is committed below (``_BUILTIN``, produced by ``python benchmarks/workload.py
derive``), so the generator runs without the corpus checkout; :func:`load_mix` derives the table
from the CSV when it is present and checks it equals the committed one. Pruning (so the table
stays readable): activities seen fewer than :data:`MIN_COUNT` times are dropped (about 5 % of
the capture), and each activity keeps its :data:`TOP` most frequent namespaces and names.
Discovery requests ``/apis/<group>/<version>`` are one activity whose group/version is drawn
from the discovery list. The CSV has no user groups; :func:`groups_for` adds the groups
kube-apiserver's authenticators give those identities.

Two modes:

``repeating``
    Activities, namespaces and names are drawn from the vocabulary above, so attribute tuples
    repeat as they do in real traffic (about 1,500 distinct tuples however large ``n`` is).
    Every request is still its own :class:`RequestAttributes` object.
``distinct``
    Every tuple is unique: a unique 7-hex-digit suffix is appended to the object name if the
    request names one, else to the namespace if it has one, else to the user (a kubelet
    becomes ``system:node:<node>-<suffix>``, a service account ``...:<name>-<suffix>``; any
    other identity ``<user>-<suffix>``, which rules naming that identity then no longer match).
    Verbs, resources and paths keep the realistic mix.

Public API: :func:`generate_attributes`, :func:`attributes_to_jsonl`, :func:`events_to_jsonl`,
:func:`load_mix`, :func:`request_uri`. Deterministic given the seed.
"""

from __future__ import annotations

import argparse
import csv
import functools
import os
import random
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, Literal

import msgspec

from kubetrail.model.attributes import RequestAttributes
from kubetrail.policy.requestinfo import resolve_request
from kubetrail.policy.resolve import method_for_verb

Mode = Literal["repeating", "distinct"]
MODES: Final = ("repeating", "distinct")

# The corpus checkout, as the tests find it: $KUBETRAIL_CORPUS or ../shared/corpus.
CORPUS: Final = Path(
    os.environ.get("KUBETRAIL_CORPUS") or Path(__file__).resolve().parents[2] / "shared/corpus"
)
CAPTURE_CSV: Final = CORPUS / "datasets/hkerma-perfspec/audit-logs.csv"
MIN_COUNT: Final = 3
TOP: Final = 4
DISCOVERY: Final = "/apis/{gv}"

# ---------------------------------------------------------------------------------------------
# The mix
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    """One kind of request and how often the capture made it.

    ``path`` is set for a non-resource request (:data:`DISCOVERY` stands for any group/version
    discovery path) and empty for a resource request. ``namespaces`` ``()`` means cluster-wide
    (a cluster-scoped resource, or a namespaced one across all namespaces); ``names`` ``()``
    means the request names no object. For ``list``/``watch`` a name is a
    ``fieldSelector=metadata.name=...``, as kubelets watch single ConfigMaps.
    """

    weight: int
    user: str
    verb: str
    path: str = ""
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespaces: tuple[tuple[str, int], ...] = ()
    names: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Mix:
    activities: tuple[Activity, ...]
    discovery: tuple[str, ...]  # group/versions a discovery request asks for
    source: str  # "builtin" or the CSV path it was derived from

    def total(self) -> int:
        return sum(a.weight for a in self.activities)


def _top(counter: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP])


def derive_mix(csv_path: Path = CAPTURE_CSV) -> Mix:
    """Count the activities of the capture (see the module docstring for the pruning)."""
    counts: Counter[tuple[str, ...]] = Counter()
    namespaces: defaultdict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    names: defaultdict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    discovery: set[str] = set()
    with csv_path.open(newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            if len(row) < 15:  # the last row is truncated upstream
                continue
            user, verb, uri = row[2], row[3], row[8]
            info = resolve_request(method_for_verb(verb), uri)
            if not info.is_resource_request:
                path = info.path
                parts = path.strip("/").split("/")
                if len(parts) == 3 and parts[0] == "apis":
                    discovery.add(f"{parts[1]}/{parts[2]}")
                    path = DISCOVERY
                counts[(user, info.verb, path)] += 1
                continue
            key: tuple[str, ...] = (
                user,
                info.verb,
                "",
                info.api_group,
                info.api_version,
                info.resource,
                info.subresource,
                "named" if info.name else "",
            )
            counts[key] += 1
            # A namespace's own URL carries its name in the namespace field; keep it as a name.
            if info.namespace and info.resource != "namespaces":
                namespaces[key][info.namespace] += 1
            if info.name:
                names[key][info.name] += 1
    activities = []
    for key, n in counts.items():
        if n < MIN_COUNT:
            continue
        if len(key) == 3:
            activities.append(Activity(n, key[0], key[1], path=key[2]))
        else:
            user, verb, _, group, version, resource, sub, _named = key
            ns = namespaces.get(key, Counter())
            if ns and sum(ns.values()) != n:
                # Some requests of this activity were cluster-wide, some namespaced: the ""
                # namespace is a real choice then.
                ns[""] += n - sum(ns.values())
            activities.append(
                Activity(
                    n,
                    user,
                    verb,
                    group=group,
                    version=version,
                    resource=resource,
                    subresource=sub,
                    namespaces=_top(ns),
                    names=_top(names.get(key, Counter())),
                )
            )
    activities.sort(
        key=lambda a: (-a.weight, a.user, a.verb, a.path, a.group, a.resource, a.subresource)
    )
    return Mix(tuple(activities), tuple(sorted(discovery)), str(csv_path))


_WIDTH: Final = 96


def _wrap(tokens: list[str]) -> list[str]:
    """Tokens on lines of at most ``_WIDTH`` characters; continuation lines are indented."""
    lines = [tokens[0]]
    for token in tokens[1:]:
        if len(lines[-1]) + 1 + len(token) > _WIDTH:
            lines.append("    " + token)
        else:
            lines[-1] += " " + token
    return lines


def format_mix(mix: Mix) -> str:
    """The table as committed in ``_BUILTIN``.

    One activity a record: ``weight user verb path`` or ``weight user verb group version
    resource subresource`` (``-`` = empty) followed by ``ns:<namespace>=<count>`` (``~`` = all
    namespaces) and ``name:<name>=<count>`` tokens. Records wrap onto indented lines.
    """
    lines = _wrap(["discovery", *mix.discovery])
    for a in mix.activities:
        tokens = [str(a.weight), a.user, a.verb]
        if a.path:
            tokens.append(a.path)
        else:
            tokens += [a.group or "-", a.version, a.resource, a.subresource or "-"]
            tokens += [f"ns:{v or '~'}={w}" for v, w in a.namespaces]
            tokens += [f"name:{v}={w}" for v, w in a.names]
        lines += _wrap(tokens)
    return "\n".join(lines) + "\n"


def parse_mix(text: str, source: str) -> Mix:
    records: list[list[str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0].isspace():
            records[-1] += line.split()
        else:
            records.append(line.split())
    activities = []
    discovery: tuple[str, ...] = ()
    for f in records:
        if f[0] == "discovery":
            discovery = tuple(f[1:])
            continue
        weight, user, verb = int(f[0]), f[1], f[2]
        if f[3].startswith("/"):
            activities.append(Activity(weight, user, verb, path=f[3]))
            continue
        group, version, resource, sub = f[3:7]
        tagged: dict[str, list[tuple[str, int]]] = {"ns": [], "name": []}
        for token in f[7:]:
            tag, _, rest = token.partition(":")
            value, _, count = rest.rpartition("=")
            tagged[tag].append(("" if value == "~" else value, int(count)))
        activities.append(
            Activity(
                weight,
                user,
                verb,
                group="" if group == "-" else group,
                version=version,
                resource=resource,
                subresource="" if sub == "-" else sub,
                namespaces=tuple(tagged["ns"]),
                names=tuple(tagged["name"]),
            )
        )
    return Mix(tuple(activities), discovery, source)


@functools.cache
def _default_mix() -> Mix:
    return load_mix()


def builtin_mix() -> Mix:
    return parse_mix(_BUILTIN, "builtin")


def load_mix(csv_path: Path | None = CAPTURE_CSV) -> Mix:
    """The mix derived from the capture if it is present, else the committed table.

    Both give the same table (checked here), so generated traffic does not depend on whether
    the corpus is checked out.
    """
    builtin = builtin_mix()
    if csv_path is None or not csv_path.is_file():
        return builtin
    derived = derive_mix(csv_path)
    if (derived.activities, derived.discovery) != (builtin.activities, builtin.discovery):
        raise RuntimeError(
            f"the committed mix differs from {csv_path}; regenerate it with "
            "`python benchmarks/workload.py derive`"
        )
    return derived


# ---------------------------------------------------------------------------------------------
# Identities
# ---------------------------------------------------------------------------------------------

_SA: Final = "system:serviceaccount:"
_NODE: Final = "system:node:"


def groups_for(user: str) -> tuple[str, ...]:
    """The groups kube-apiserver's authenticators give this identity (the CSV drops them)."""
    if user.startswith(_NODE):
        return ("system:nodes", "system:authenticated")
    if user.startswith(_SA):
        namespace = user[len(_SA) :].split(":", 1)[0]
        return (
            "system:serviceaccounts",
            f"system:serviceaccounts:{namespace}",
            "system:authenticated",
        )
    if user == "system:anonymous":
        return ("system:unauthenticated",)
    if user == "system:apiserver":  # the loopback client
        return ("system:authenticated", "system:masters")
    if user == "kubernetes-admin":  # kubeadm's admin.conf (kubeadm >= 1.29)
        return ("kubeadm:cluster-admins", "system:authenticated")
    return ("system:authenticated",)


_CONTROLLER_SA: Final = _SA + "kube-system:"
_KUBE_SYSTEM_AGENTS: Final = frozenset({"kube-proxy", "coredns"})


def user_class(user: str) -> str:
    """A coarse class of identity, for reporting the mix."""
    if user.startswith(_NODE):
        return "kubelet"
    if user == "system:kube-controller-manager":
        return "kube-controller-manager"
    if user.startswith(_CONTROLLER_SA):
        name = user[len(_CONTROLLER_SA) :]
        if name in _KUBE_SYSTEM_AGENTS:
            return name
        return "kube-controller-manager"  # --use-service-account-credentials: one SA each
    if user == "system:kube-scheduler":
        return "kube-scheduler"
    if user in ("system:kube-proxy", "system:apiserver", "system:anonymous"):
        return user.removeprefix("system:")
    if user.startswith(_SA):
        return "service account (workload)"
    if user.startswith("system:"):
        return "other system"
    return "human"


def _unique_user(user: str, token: str) -> str:
    # system:node:<node>-<token>, system:serviceaccount:<ns>:<name>-<token>, <user>-<token>
    return f"{user}-{token}"


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------

_TOKEN_BITS: Final = 28
_TOKEN_SPACE: Final = 1 << _TOKEN_BITS
_TOKEN_STEP: Final = 0x9E3779B  # odd: i -> i * step + salt is a bijection modulo 2**28


def _token(i: int, salt: int) -> str:
    """A unique, random-looking, DNS-safe suffix for the ``i``-th request (``i < 2**28``)."""
    return f"{(i * _TOKEN_STEP + salt) & (_TOKEN_SPACE - 1):07x}"


def _pool(pairs: tuple[tuple[str, int], ...]) -> tuple[str, ...]:
    return tuple(v for v, w in pairs for _ in range(w))


def resource_path(
    group: str,
    version: str,
    namespace: str,
    resource: str,
    name: str,
    subresource: str,
    *,
    name_in_path: bool = True,
) -> str:
    """The URL path kube-apiserver serves this request on."""
    prefix = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    if resource == "namespaces":
        path = f"{prefix}/namespaces"
    elif namespace:
        path = f"{prefix}/namespaces/{namespace}/{resource}"
    else:
        path = f"{prefix}/{resource}"
    if name and name_in_path:
        path = f"{path}/{name}"
        if subresource:
            path = f"{path}/{subresource}"
    return path


def generate_attributes(
    n: int, mode: Mode = "repeating", seed: int = 0, *, mix: Mix | None = None
) -> list[RequestAttributes]:
    """``n`` requests drawn from the capture's mix; the same ``(n, mode, seed)`` gives the same
    list. Every element is a distinct object."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if mode == "distinct" and n > _TOKEN_SPACE:
        raise ValueError(f"distinct mode makes at most {_TOKEN_SPACE} requests")
    mix = mix or _default_mix()
    rng = random.Random(seed)
    salt = rng.randrange(_TOKEN_SPACE)
    prepared = [
        (a, _pool(a.namespaces), _pool(a.names), groups_for(a.user)) for a in mix.activities
    ]
    picks = rng.choices(prepared, weights=[a.weight for a in mix.activities], k=n)
    discovery = mix.discovery
    distinct = mode == "distinct"
    choice = rng.choice
    out: list[RequestAttributes] = []
    append = out.append
    for i, (a, ns_pool, name_pool, groups) in enumerate(picks):
        user = a.user
        if a.path:
            path = f"/apis/{choice(discovery)}" if a.path == DISCOVERY else a.path
            if distinct:
                user = _unique_user(user, _token(i, salt))  # same groups
            append(RequestAttributes(user=user, groups=groups, verb=a.verb, path=path))
            continue
        namespace = choice(ns_pool) if ns_pool else ""
        name = choice(name_pool) if name_pool else ""
        if distinct:
            token = _token(i, salt)
            if name:
                name = f"{name}-{token}"
            elif namespace:
                namespace = f"{namespace}-{token}"
            else:
                user = _unique_user(user, token)  # same groups
        name_in_path = a.verb not in ("list", "watch")  # else a fieldSelector
        if a.resource == "namespaces" and name_in_path:
            namespace = name  # the resolver reads /namespaces/<name> as that namespace
        sub = a.subresource
        append(
            RequestAttributes(
                user=user,
                groups=groups,
                verb=a.verb,
                namespace=namespace,
                api_group=a.group,
                api_version=a.version,
                resource=a.resource,
                subresource=sub,
                name=name,
                path=resource_path(
                    a.group,
                    a.version,
                    namespace,
                    a.resource,
                    name,
                    sub,
                    name_in_path=name_in_path,
                ),
                resource_request=True,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Serialisation
# ---------------------------------------------------------------------------------------------

_encoder: Final = msgspec.json.Encoder()


def attributes_to_jsonl(attrs: Iterable[RequestAttributes]) -> Iterator[bytes]:
    """One ``policy eval`` attribute line (with newline) per request."""
    encode = _encoder.encode
    for a in attrs:
        yield encode(a.to_wire()) + b"\n"


def request_uri(a: RequestAttributes, rng: random.Random | None = None) -> str:
    """A request URI (path and query) that resolves to ``a``, as kube-apiserver records it.

    ``list``/``watch`` of one object carry ``fieldSelector=metadata.name%3D<name>``; a watch
    carries ``watch=true`` and the query parameters client-go sends.
    """
    if not a.resource_request:
        return a.path
    query = []
    if a.verb in ("list", "watch"):
        if a.name:
            query.append(f"fieldSelector=metadata.name%3D{a.name}")
        if a.verb == "watch":
            rv = rng.randrange(1_000_000, 9_999_999) if rng else 6577334
            timeout = rng.randrange(300, 600) if rng else 463
            query += [
                "allowWatchBookmarks=true",
                f"resourceVersion={rv}",
                f"timeout={timeout // 60}m{timeout % 60}s",
                f"timeoutSeconds={timeout}",
                "watch=true",
            ]
        else:
            query += ["limit=500", "resourceVersion=0"]
    return f"{a.path}?{'&'.join(query)}" if query else a.path


_AGENTS: Final = {
    "kubelet": "kubelet/v1.26.1 (linux/amd64) kubernetes/8f94681",
    "kube-controller-manager": "kube-controller-manager/v1.26.1 (linux/amd64) kubernetes/8f94681",
    "kube-scheduler": "kube-scheduler/v1.26.1 (linux/amd64) kubernetes/8f94681/scheduler",
    "kube-proxy": "kube-proxy/v1.26.1 (linux/amd64) kubernetes/8f94681",
    "apiserver": "kube-apiserver/v1.26.1 (linux/amd64) kubernetes/8f94681",
    "human": "Helm/3.11.0",
}
_DEFAULT_AGENT: Final = "Go-http-client/2.0"
_START: Final = datetime(2023, 1, 27, 18, 28, 8, tzinfo=UTC)
_RATE: Final = 68.0  # events per second in the capture


class _User(msgspec.Struct, omit_defaults=True):
    username: str = ""
    groups: list[str] = []


class _ObjectRef(msgspec.Struct, omit_defaults=True):
    resource: str = ""
    namespace: str = ""
    name: str = ""
    apiGroup: str = ""
    apiVersion: str = ""
    subresource: str = ""


class _Status(msgspec.Struct):
    metadata: dict[str, str]
    code: int


class _Event(msgspec.Struct, omit_defaults=True):
    kind: str
    apiVersion: str
    level: str
    auditID: str
    stage: str
    requestURI: str
    verb: str
    user: _User
    sourceIPs: list[str]
    userAgent: str
    responseStatus: _Status
    requestReceivedTimestamp: str
    stageTimestamp: str
    annotations: dict[str, str]
    objectRef: _ObjectRef | None = None


def _timestamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def events_to_jsonl(attrs: Iterable[RequestAttributes], seed: int = 0) -> Iterator[bytes]:
    """One audit.k8s.io/v1 Event line (Metadata level, as kube-apiserver writes it) per
    request. Resolving its ``requestURI`` and ``verb`` gives back the request's attributes."""
    rng = random.Random(seed)
    encode = _encoder.encode
    for i, a in enumerate(attrs):
        received = _START + timedelta(seconds=i / _RATE)
        done = received + timedelta(microseconds=rng.randrange(800, 40_000))
        watch = a.verb == "watch"
        user = _User() if a.user is None else _User(a.user, list(a.groups))
        klass = "anonymous" if a.user is None else user_class(a.user)
        ref = None
        if a.resource_request:
            ref = _ObjectRef(
                a.resource, a.namespace, a.name, a.api_group, a.api_version, a.subresource
            )
        event = _Event(
            kind="Event",
            apiVersion="audit.k8s.io/v1",
            level="Metadata",
            auditID=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            stage="ResponseStarted" if watch else "ResponseComplete",
            requestURI=request_uri(a, rng),
            verb=a.verb,
            user=user,
            sourceIPs=["10.0.0.2" if klass == "human" else "192.168.122.10"],
            userAgent=_AGENTS.get(klass, _DEFAULT_AGENT),
            responseStatus=_Status({}, 201 if a.verb == "create" else 200),
            requestReceivedTimestamp=_timestamp(received),
            stageTimestamp=_timestamp(done),
            annotations={
                "authorization.k8s.io/decision": "allow",
                "authorization.k8s.io/reason": "",
            },
            objectRef=ref,
        )
        yield encode(event) + b"\n"


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------


def shares(attrs: Iterable[RequestAttributes]) -> dict[str, Counter[str]]:
    """Counts of user class, verb, resource, namespace and non-resource path."""
    out: dict[str, Counter[str]] = {
        k: Counter() for k in ("users", "verbs", "resources", "namespaces", "paths")
    }
    for a in attrs:
        out["users"][user_class(a.user or "")] += 1
        out["verbs"][a.verb] += 1
        if a.resource_request:
            res = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
            out["resources"][f"{a.api_group}/{res}" if a.api_group else res] += 1
            out["namespaces"][a.namespace or "(cluster-wide)"] += 1
        else:
            path = a.path
            if path.startswith("/apis/") or path in ("/api", "/api/v1", "/apis"):
                path = "/api, /apis/... (discovery)"
            out["paths"][path] += 1
    return out


def _print_shares(attrs: list[RequestAttributes], top: int) -> None:
    total = len(attrs)
    for what, counter in shares(attrs).items():
        print(f"{what}:")
        for value, count in counter.most_common(top):
            print(f"  {100 * count / total:5.1f}%  {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("derive", help="print the mix derived from the capture (the _BUILTIN table)")
    for name in ("summary", "attrs", "events"):
        p = sub.add_parser(name)
        p.add_argument("-n", type=int, default=100_000 if name == "summary" else 10)
        p.add_argument("--mode", choices=MODES, default="repeating")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)
    if args.command == "derive":
        if not CAPTURE_CSV.is_file():
            print(f"{CAPTURE_CSV} is not present", file=sys.stderr)
            return 1
        sys.stdout.write(format_mix(derive_mix()))
        return 0
    attrs = generate_attributes(args.n, args.mode, args.seed)
    if args.command == "summary":
        print(f"{args.n} requests, mode {args.mode}, {len(set(attrs))} distinct tuples")
        _print_shares(attrs, args.top)
    else:
        lines = attributes_to_jsonl(attrs) if args.command == "attrs" else events_to_jsonl(attrs)
        sys.stdout.buffer.writelines(lines)
    return 0


# Derived once from the capture with `python benchmarks/workload.py derive` (see the module
# docstring). A line is `weight user verb group version resource subresource namespaces names`
# (`-` = empty, `~` = the empty namespace, i.e. across all namespaces) or `weight user verb path`.
_BUILTIN: Final = """
discovery admissionregistration.k8s.io/v1 apiextensions.k8s.io/v1 apiregistration.k8s.io/v1
    appprotect.f5.com/v1beta1 appprotectdos.f5.com/v1beta1 apps/v1 argoproj.io/v1alpha1
    authentication.k8s.io/v1 authorization.k8s.io/v1 autoscaling/v1 autoscaling/v2
    autoscaling/v2beta1 autoscaling/v2beta2 batch/v1 batch/v1beta1 certificates.k8s.io/v1
    coordination.k8s.io/v1 discovery.k8s.io/v1 discovery.k8s.io/v1beta1 elbv2.k8s.aws/v1alpha1
    elbv2.k8s.aws/v1beta1 events.k8s.io/v1 events.k8s.io/v1beta1 externaldns.nginx.org/v1
    flowcontrol.apiserver.k8s.io/v1beta1 flowcontrol.apiserver.k8s.io/v1beta2 k8s.nginx.org/v1
    k8s.nginx.org/v1alpha1 longhorn.io/v1beta1 longhorn.io/v1beta2 monitoring.coreos.com/v1
    monitoring.coreos.com/v1alpha1 monitoring.grafana.com/v1alpha1 networking.k8s.io/v1
    node.k8s.io/v1 node.k8s.io/v1beta1 policy/v1 policy/v1beta1 rbac.authorization.k8s.io/v1
    scheduling.k8s.io/v1 storage.k8s.io/v1 storage.k8s.io/v1beta1 traefik.containo.us/v1alpha1
    velero.io/v1
5764 kubernetes-admin get /apis/{gv}
1238 system:serviceaccount:cert-manager:my-cert-manager-cainjector get /apis/{gv}
1144 system:serviceaccount:cert-manager:my-cert-manager-startupapicheck get /apis/{gv}
428 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-operator get - v1
    secrets - ns:kube-prometheus-stack=428
    name:alertmanager-my-kube-prometheus-stack-alertmanager=63
    name:alertmanager-my-kube-prometheus-stack-alertmanager-generated=63
    name:alertmanager-my-kube-prometheus-stack-alertmanager-tls-assets-0=63
    name:alertmanager-my-kube-prometheus-stack-alertmanager-web-config=63
352 system:serviceaccount:kube-system:resourcequota-controller get /apis/{gv}
315 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-operator update - v1
    secrets - ns:kube-prometheus-stack=315
    name:alertmanager-my-kube-prometheus-stack-alertmanager-generated=62
    name:alertmanager-my-kube-prometheus-stack-alertmanager-tls-assets-0=62
    name:alertmanager-my-kube-prometheus-stack-alertmanager-web-config=62
    name:prometheus-my-kube-prometheus-stack-prometheus=43
308 system:serviceaccount:kube-system:generic-garbage-collector get /apis/{gv}
238 system:anonymous get /readyz
215 system:serviceaccount:gatekeeper-system:gatekeeper-admin get /apis/{gv}
214 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-operator delete - v1
    secrets - ns:kube-prometheus-stack=214
    name:alertmanager-my-kube-prometheus-stack-alertmanager-tls-assets=63
    name:alertmanager-my-kube-prometheus-stack-alertmanager-tls-assets-1=63
    name:prometheus-my-kube-prometheus-stack-prometheus-tls-assets=44
    name:prometheus-my-kube-prometheus-stack-prometheus-tls-assets-1=44
176 system:kube-controller-manager get /apis/{gv}
150 system:serviceaccount:kube-system:persistent-volume-binder get - v1 persistentvolumes -
    name:pvc-18c649d9-f146-4847-8ccc-3da7a5f81ccf=15
    name:pvc-2e3a4df2-96c9-44c7-bec1-ade9e0482712=15
    name:pvc-5caa43ba-9001-4e46-b3c0-e6dfb544d807=15
    name:pvc-6f425d51-9ef9-442c-b7c2-c676d8ff0df4=15
137 kubernetes-admin get /api/v1
131 kubernetes-admin get /api
131 kubernetes-admin get /apis
117 system:kube-controller-manager get coordination.k8s.io v1 leases - ns:kube-system=117
    name:kube-controller-manager=117
116 system:kube-scheduler get coordination.k8s.io v1 leases - ns:kube-system=116
    name:kube-scheduler=116
111 system:kube-controller-manager update coordination.k8s.io v1 leases - ns:kube-system=111
    name:kube-controller-manager=111
111 system:kube-scheduler update coordination.k8s.io v1 leases - ns:kube-system=111
    name:kube-scheduler=111
109 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-operator get - v1
    services - ns:kube-prometheus-stack=107 ns:kube-system=2 name:alertmanager-operated=63
    name:prometheus-operated=44 name:my-kube-prometheus-stack-kubelet=2
107 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-operator update - v1
    services - ns:kube-prometheus-stack=105 ns:kube-system=2 name:alertmanager-operated=62
    name:prometheus-operated=43 name:my-kube-prometheus-stack-kubelet=2
100 system:serviceaccount:kube-system:deployment-controller update apps v1 deployments status
    ns:argo-cd=35 ns:kube-prometheus-stack=17 ns:cert-manager=16 ns:prometheus=15
    name:my-argo-cd-argocd-dex-server=7 name:my-argo-cd-argocd-redis=7
    name:my-kube-prometheus-stack-grafana=7 name:my-argo-cd-argocd-server=6
95 system:serviceaccount:kube-system:endpointslice-controller update discovery.k8s.io v1
    endpointslices - ns:kube-prometheus-stack=30 ns:argo-cd=17 ns:prometheus=17
    ns:cert-manager=7 name:my-kube-prometheus-stack-prometheus-node-exporter-bdgkp=7
    name:alertmanager-operated-lznr9=4 name:my-argo-cd-argocd-dex-server-p2ks7=4
    name:my-argo-cd-argocd-repo-server-lxk2b=4
88 system:kube-controller-manager get - v1 serviceaccounts - ns:kube-system=59
    ns:kube-prometheus-stack=8 ns:argo-cd=6 ns:prometheus=5 name:generic-garbage-collector=4
    name:horizontal-pod-autoscaler=4 name:node-controller=4 name:certificate-controller=3
88 system:serviceaccount:kube-system:namespace-controller get /apis/{gv}
80 system:serviceaccount:kube-system:attachdetach-controller patch - v1 nodes status
    name:k8s-node-1-perfspec=46 name:k8s-node-2-perfspec=34
72 system:apiserver get flowcontrol.apiserver.k8s.io v1beta2 flowschemas - name:catch-all=6
    name:exempt=6 name:global-default=6 name:kube-controller-manager=6
71 system:node:k8s-node-2-perfspec create - v1 events - ns:kube-prometheus-stack=26
    ns:argo-cd=18 ns:cert-manager=10 ns:ingress-nginx=9
65 system:apiserver get rbac.authorization.k8s.io v1 clusterroles -
    name:system:aggregate-to-admin=2 name:system:aggregate-to-edit=2
    name:system:aggregate-to-view=2 name:admin=1
61 system:serviceaccount:kube-system:replicaset-controller update apps v1 replicasets status
    ns:argo-cd=20 ns:cert-manager=12 ns:kube-prometheus-stack=9 ns:prometheus=8
    name:my-kubernetes-dashboard-6c4fdd7866=6 name:my-argo-cd-argocd-redis-55ccdd4fcc=5
    name:my-cert-manager-767dc59795=4 name:my-cert-manager-cainjector-6fc6455885=4
54 system:node:k8s-node-2-perfspec get - v1 pods - ns:kube-prometheus-stack=18 ns:argo-cd=14
    ns:ingress-nginx=10 ns:cert-manager=7 name:my-argo-cd-argocd-dex-server-796c4cb797-ttq8q=5
    name:my-argo-cd-argocd-repo-server-68bb6766bf-x7t7b=4
    name:my-ingress-nginx-admission-patch-v6mhc=4
    name:my-argo-cd-argocd-application-controller-0=3
52 kubernetes-admin get - v1 configmaps - ns:kube-prometheus-stack=29 ns:argo-cd=14 ns:redis=3
    ns:prometheus=2 name:argocd-cm=2 name:argocd-cmd-params-cm=2 name:argocd-gpg-keys-cm=2
    name:argocd-notifications-cm=2
51 system:node:k8s-node-2-perfspec patch - v1 pods status ns:kube-prometheus-stack=17
    ns:argo-cd=13 ns:ingress-nginx=9 ns:cert-manager=7
    name:my-argo-cd-argocd-dex-server-796c4cb797-ttq8q=4
    name:my-argo-cd-argocd-repo-server-68bb6766bf-x7t7b=4
    name:my-argo-cd-argocd-application-controller-0=3
    name:my-cert-manager-webhook-6994bf889c-n88b4=3
48 system:apiserver get flowcontrol.apiserver.k8s.io v1beta2 prioritylevelconfigurations -
    name:catch-all=6 name:exempt=6 name:global-default=6 name:leader-election=6
47 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-operator update
    monitoring.coreos.com v1 prometheuses status ns:kube-prometheus-stack=47
    name:my-kube-prometheus-stack-prometheus=47
46 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-operator list - v1
    configmaps - ns:kube-prometheus-stack=44 ns:~=2
46 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-operator list - v1 pods
    - ns:kube-prometheus-stack=46
46 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-operator list - v1
    secrets - ns:kube-prometheus-stack=44 ns:~=2
45 kubernetes-admin create - v1 configmaps - ns:kube-prometheus-stack=29 ns:argo-cd=7 ns:redis=3
    ns:prometheus=2
45 system:apiserver get rbac.authorization.k8s.io v1 clusterrolebindings -
    name:system:discovery=2 name:system:public-info-viewer=2 name:cluster-admin=1
    name:system:basic-user=1
45 system:apiserver update apiextensions.k8s.io v1 customresourcedefinitions status
    name:engineimages.longhorn.io=9 name:engines.longhorn.io=9 name:nodes.longhorn.io=9
    name:replicas.longhorn.io=9
45 system:serviceaccount:kube-system:attachdetach-controller delete storage.k8s.io v1
    volumeattachments -
    name:csi-251e5056762394f2cc85db3d03b649d0f6cf689fbd810444aa3828e56476ab29=9
    name:csi-72509ed67b491af300d556495c0824262b94cd6d367c5e0e6297e977c30607a3=9
    name:csi-89e8c7ea99488628a934735b80bb355c6778de602621d2ca5f97f6740eb6c529=9
    name:csi-bbdb77753a6433370dc580266fe7057e8fc95af81ba465547474aa1d74e4b82e=9
45 system:serviceaccount:kube-system:attachdetach-controller get - v1 nodes -
    name:k8s-node-1-perfspec=27 name:k8s-node-2-perfspec=18
44 system:node:k8s-node-1-perfspec create - v1 events - ns:kube-prometheus-stack=20 ns:argo-cd=9
    ns:cert-manager=6 ns:grafana=5
44 system:serviceaccount:argo-cd:argocd-applicationset-controller get /apis/{gv}
40 system:apiserver get - v1 namespaces - name:default=25 name:kube-node-lease=5
    name:kube-public=5 name:kube-system=5
40 system:serviceaccount:kube-system:endpoint-controller update - v1 endpoints -
    ns:kube-prometheus-stack=18 ns:argo-cd=8 ns:ingress-nginx=4 ns:prometheus=4
    name:my-kube-prometheus-stack-prometheus-node-exporter=5 name:alertmanager-operated=2
    name:my-argo-cd-argocd-dex-server=2 name:my-argo-cd-argocd-repo-server=2
38 kubernetes-admin get - v1 services - ns:argo-cd=10 ns:kube-prometheus-stack=6 ns:prometheus=6
    ns:kube-system=5 name:my-argo-cd-argocd-applicationset-controller=2
    name:my-argo-cd-argocd-dex-server=2 name:my-argo-cd-argocd-redis=2
    name:my-argo-cd-argocd-repo-server=2
37 kubernetes-admin update - v1 secrets - ns:ingress-nginx=13 ns:kube-prometheus-stack=13
    ns:cert-manager=5 ns:argo-cd=1 name:sh.helm.release.v1.my-ingress-nginx.v1=13
    name:sh.helm.release.v1.my-kube-prometheus-stack.v1=13
    name:sh.helm.release.v1.my-cert-manager.v1=5 name:sh.helm.release.v1.my-argo-cd.v1=1
37 system:kube-scheduler create - v1 events - ns:kube-prometheus-stack=10 ns:argo-cd=7
    ns:prometheus=7 ns:cert-manager=4
35 system:serviceaccount:kube-system:endpoint-controller create - v1 endpoints -
    ns:kube-prometheus-stack=8 ns:prometheus=6 ns:argo-cd=5 ns:kube-system=5
35 system:serviceaccount:kube-system:endpointslice-controller create discovery.k8s.io v1
    endpointslices - ns:kube-prometheus-stack=8 ns:prometheus=6 ns:argo-cd=5 ns:kube-system=5
34 system:serviceaccount:kube-system:replicaset-controller create - v1 pods - ns:kube-system=16
    ns:argo-cd=6 ns:cert-manager=3 ns:kube-prometheus-stack=3
33 kubernetes-admin create - v1 services - ns:kube-prometheus-stack=6 ns:prometheus=6
    ns:argo-cd=5 ns:kube-system=5
32 system:node:k8s-node-2-perfspec watch - v1 configmaps - ns:argo-cd=6 ns:kube-flannel=6
    ns:kube-system=6 ns:kube-prometheus-stack=5 name:kube-root-ca.crt=19 name:kube-flannel-cfg=3
    name:kube-proxy=3 name:argocd-cm=1
30 kubernetes-admin get - v1 serviceaccounts - ns:argo-cd=12 ns:kube-prometheus-stack=6
    ns:prometheus=5 ns:cert-manager=3 name:argocd-application-controller=2
    name:argocd-applicationset-controller=2 name:argocd-dex-server=2
    name:argocd-notifications-controller=2
30 system:node:k8s-node-1-perfspec get - v1 pods - ns:kube-prometheus-stack=12 ns:argo-cd=7
    ns:cert-manager=5 ns:grafana=3 name:my-cert-manager-startupapicheck-vkvtm=5
    name:prometheus-my-kube-prometheus-stack-prometheus-0=5
    name:alertmanager-my-kube-prometheus-stack-alertmanager-0=4
    name:my-argo-cd-argocd-server-5f9484675-7jhzj=3
30 system:node:k8s-node-1-perfspec patch - v1 pods status ns:kube-prometheus-stack=12
    ns:argo-cd=7 ns:cert-manager=5 ns:grafana=3 name:my-cert-manager-startupapicheck-vkvtm=5
    name:prometheus-my-kube-prometheus-stack-prometheus-0=5
    name:alertmanager-my-kube-prometheus-stack-alertmanager-0=4
    name:my-argo-cd-argocd-server-5f9484675-7jhzj=3
30 system:node:k8s-node-1-perfspec watch - v1 configmaps - ns:kube-system=9 ns:argo-cd=6
    ns:kube-flannel=6 ns:gatekeeper-system=3 name:kube-root-ca.crt=14 name:coredns=3
    name:kube-flannel-cfg=3 name:kube-proxy=3
29 kubernetes-admin create - v1 serviceaccounts - ns:kube-prometheus-stack=8 ns:argo-cd=6
    ns:prometheus=5 ns:cert-manager=4
29 kubernetes-admin create monitoring.coreos.com v1 prometheusrules -
    ns:kube-prometheus-stack=29
29 kubernetes-admin get monitoring.coreos.com v1 prometheusrules - ns:kube-prometheus-stack=29
    name:my-kube-prometheus-stack-alertmanager.rules=1
    name:my-kube-prometheus-stack-config-reloaders=1 name:my-kube-prometheus-stack-etcd=1
    name:my-kube-prometheus-stack-general.rules=1
29 system:kube-controller-manager create - v1 secrets - ns:kube-prometheus-stack=8 ns:argo-cd=6
    ns:prometheus=5 ns:cert-manager=4
29 system:kube-controller-manager update - v1 serviceaccounts - ns:kube-prometheus-stack=8
    ns:argo-cd=6 ns:prometheus=5 ns:cert-manager=4 name:my-ingress-nginx-admission=2
    name:my-kube-prometheus-stack-admission=2 name:argocd-application-controller=1
    name:argocd-applicationset-controller=1
29 system:serviceaccount:cert-manager:my-cert-manager-cainjector get /api
29 system:serviceaccount:cert-manager:my-cert-manager-cainjector get /apis
28 kubernetes-admin create rbac.authorization.k8s.io v1 clusterroles -
28 system:kube-scheduler create - v1 pods binding ns:kube-prometheus-stack=10 ns:argo-cd=7
    ns:cert-manager=4 ns:ingress-nginx=3
    name:alertmanager-my-kube-prometheus-stack-alertmanager-0=1
    name:my-argo-cd-argocd-application-controller-0=1
    name:my-argo-cd-argocd-applicationset-controller-6db8b67555-d8tz4=1
    name:my-argo-cd-argocd-dex-server-796c4cb797-ttq8q=1
28 system:serviceaccount:cert-manager:my-cert-manager-cainjector get /api/v1
27 kubernetes-admin get rbac.authorization.k8s.io v1 clusterroles -
    name:my-argo-cd-argocd-application-controller=2 name:my-argo-cd-argocd-repo-server=2
    name:my-argo-cd-argocd-server=2 name:my-cert-manager-cainjector=1
26 kubernetes-admin create rbac.authorization.k8s.io v1 clusterrolebindings -
26 system:serviceaccount:cert-manager:my-cert-manager-startupapicheck get /api
26 system:serviceaccount:cert-manager:my-cert-manager-startupapicheck get /api/v1
26 system:serviceaccount:cert-manager:my-cert-manager-startupapicheck get /apis
25 kubernetes-admin get rbac.authorization.k8s.io v1 clusterrolebindings -
    name:my-argo-cd-argocd-application-controller=2 name:my-argo-cd-argocd-repo-server=2
    name:my-argo-cd-argocd-server=2 name:my-cert-manager-cainjector=1
25 system:apiserver get - v1 endpoints - ns:default=25 name:kubernetes=25
25 system:apiserver get - v1 services - ns:default=25 name:kubernetes=25
25 system:apiserver get discovery.k8s.io v1 endpointslices - ns:default=25 name:kubernetes=25
24 kubernetes-admin get apps v1 deployments - ns:argo-cd=12 ns:cert-manager=3
    ns:kube-prometheus-stack=3 ns:prometheus=3
    name:my-argo-cd-argocd-applicationset-controller=2 name:my-argo-cd-argocd-dex-server=2
    name:my-argo-cd-argocd-notifications-controller=2 name:my-argo-cd-argocd-redis=2
24 system:anonymous get /livez
24 system:apiserver get - v1 serviceaccounts - ns:kube-system=21 ns:gatekeeper-system=2
    ns:kube-flannel=1 name:policy-test-sa-1=16 name:kube-proxy=3 name:coredns=2
    name:gatekeeper-admin=2
24 system:node:k8s-master-perfspec get - v1 nodes - name:k8s-master-perfspec=24
24 system:node:k8s-master-perfspec update coordination.k8s.io v1 leases - ns:kube-node-lease=24
    name:k8s-master-perfspec=24
24 system:node:k8s-node-1-perfspec get - v1 nodes - name:k8s-node-1-perfspec=24
24 system:node:k8s-node-1-perfspec update coordination.k8s.io v1 leases - ns:kube-node-lease=24
    name:k8s-node-1-perfspec=24
24 system:node:k8s-node-2-perfspec get - v1 nodes - name:k8s-node-2-perfspec=24
24 system:node:k8s-node-2-perfspec update coordination.k8s.io v1 leases - ns:kube-node-lease=24
    name:k8s-node-2-perfspec=24
23 system:node:k8s-node-1-perfspec list - v1 configmaps - ns:argo-cd=6 ns:default=5
    ns:kube-system=3 ns:grafana=2 name:kube-root-ca.crt=8 name:my-airflow-airflow-config=5
    name:argocd-cmd-params-cm=1 name:argocd-gpg-keys-cm=1
22 system:serviceaccount:kube-system:persistent-volume-binder patch - v1 events -
    ns:prometheus=12 ns:redis=8 ns:postgresql=2 name:my-prometheus-server.173e3df9a3b43581=6
    name:storage-my-prometheus-alertmanager-0.173e3df9b4d6a528=6
    name:redis-data-my-redis-master-0.173e3dffc9780448=4
    name:redis-data-my-redis-replicas-0.173e3dffc9c996de=4
21 system:node:k8s-node-2-perfspec list - v1 configmaps - ns:argo-cd=6
    ns:kube-prometheus-stack=5 ns:ingress-nginx=2 ns:kube-flannel=2 name:kube-root-ca.crt=12
    name:argocd-cm=1 name:argocd-cmd-params-cm=1 name:argocd-gpg-keys-cm=1
20 kubernetes-admin get /version
19 kubernetes-admin create - v1 secrets - ns:kubernetes-dashboard=4 ns:argo-cd=3
    ns:kube-prometheus-stack=3 ns:grafana=2
19 kubernetes-admin get rbac.authorization.k8s.io v1 rolebindings - ns:argo-cd=12
    ns:kube-system=2 ns:cert-manager=1 ns:grafana=1
    name:my-argo-cd-argocd-application-controller=2
    name:my-argo-cd-argocd-applicationset-controller=2 name:my-argo-cd-argocd-dex-server=2
    name:my-argo-cd-argocd-notifications-controller=2
19 kubernetes-admin get rbac.authorization.k8s.io v1 roles - ns:argo-cd=12 ns:kube-system=2
    ns:cert-manager=1 ns:grafana=1 name:my-argo-cd-argocd-application-controller=2
    name:my-argo-cd-argocd-applicationset-controller=2 name:my-argo-cd-argocd-dex-server=2
    name:my-argo-cd-argocd-notifications-controller=2
19 system:serviceaccount:ingress-nginx:my-ingress-nginx get coordination.k8s.io v1 leases -
    ns:ingress-nginx=19 name:my-ingress-nginx-leader=19
19 system:serviceaccount:kube-system:replicaset-controller create - v1 events - ns:argo-cd=6
    ns:cert-manager=3 ns:kube-prometheus-stack=3 ns:prometheus=3
18 kubernetes-admin create apps v1 deployments - ns:argo-cd=6 ns:cert-manager=3
    ns:kube-prometheus-stack=3 ns:prometheus=3
18 kubernetes-admin create rbac.authorization.k8s.io v1 rolebindings - ns:argo-cd=6
    ns:ingress-nginx=3 ns:kube-prometheus-stack=3 ns:cert-manager=2
18 kubernetes-admin create rbac.authorization.k8s.io v1 roles - ns:argo-cd=6 ns:ingress-nginx=3
    ns:kube-prometheus-stack=3 ns:cert-manager=2
18 kubernetes-admin get - v1 secrets - ns:argo-cd=4 ns:redis=4 ns:grafana=3
    ns:kubernetes-dashboard=3 name:my-redis=4 name:my-grafana=3
    name:argocd-notifications-secret=2 name:argocd-secret=2
18 system:apiserver list - v1 resourcequotas - ns:kube-prometheus-stack=6 ns:kube-system=3
    ns:~=1 ns:argo-cd=1
18 system:serviceaccount:gatekeeper-system:gatekeeper-admin list templates.gatekeeper.sh v1beta1
    constrainttemplates -
18 system:serviceaccount:kube-system:deployment-controller create - v1 events - ns:argo-cd=6
    ns:cert-manager=3 ns:kube-prometheus-stack=3 ns:prometheus=3
18 system:serviceaccount:kube-system:deployment-controller create apps v1 replicasets -
    ns:argo-cd=6 ns:cert-manager=3 ns:kube-prometheus-stack=3 ns:prometheus=3
17 kubernetes-admin create apiextensions.k8s.io v1 customresourcedefinitions -
17 system:apiserver list - v1 limitranges - ns:kube-system=4 ns:cert-manager=3 ns:redis=2 ns:~=1
17 system:kube-scheduler patch - v1 events - ns:prometheus=12 ns:redis=5
    name:my-prometheus-server-555d6cb6bf-h95fp.173e3df9b0d429b6=5
    name:my-prometheus-alertmanager-0.173e3df9b639f766=4
    name:my-redis-master-0.173e3dffc9e0d8f4=3 name:my-redis-replicas-0.173e3dffcb86431b=2
17 system:node:k8s-node-2-perfspec create - v1 serviceaccounts token ns:kube-prometheus-stack=5
    ns:argo-cd=4 ns:cert-manager=3 ns:ingress-nginx=3 name:my-ingress-nginx-admission=2
    name:my-kube-prometheus-stack-admission=2 name:argocd-application-controller=1
    name:argocd-dex-server=1
16 system:kube-controller-manager create - v1 serviceaccounts token ns:kube-system=16
    name:attachdetach-controller=1 name:clusterrole-aggregation-controller=1
    name:daemon-set-controller=1 name:deployment-controller=1
16 system:serviceaccount:ingress-nginx:my-ingress-nginx update coordination.k8s.io v1 leases -
    ns:ingress-nginx=16 name:my-ingress-nginx-leader=16
15 system:apiserver create apiregistration.k8s.io v1 apiservices -
15 system:apiserver delete apiregistration.k8s.io v1 apiservices -
    name:v1.externaldns.nginx.org=1 name:v1.k8s.nginx.org=1 name:v1.monitoring.coreos.com=1
    name:v1.velero.io=1
15 system:node:k8s-master-perfspec patch - v1 events - ns:kube-system=15
    name:kube-scheduler-k8s-master-perfspec.173e3ac25f387d3b=3
    name:kube-controller-manager-k8s-master-perfspec.173e3ac25ef57f89=2
    name:kube-apiserver-k8s-master-perfspec.173e3a651bd9d521=1
    name:kube-apiserver-k8s-master-perfspec.173e3a651cf8784e=1
15 system:serviceaccount:kube-system:replicaset-controller patch - v1 events - ns:kube-system=15
    name:policy-test-5bc859c67f.173e3ddb01a2e3b9=15
14 system:serviceaccount:kube-system:statefulset-controller update apps v1 statefulsets status
    ns:kube-prometheus-stack=4 ns:redis=4 ns:postgresql=3 ns:argo-cd=2 name:my-postgresql=3
    name:my-redis-master=3 name:alertmanager-my-kube-prometheus-stack-alertmanager=2
    name:my-argo-cd-argocd-application-controller=2
13 kubernetes-admin create monitoring.coreos.com v1 servicemonitors -
    ns:kube-prometheus-stack=13
13 kubernetes-admin get monitoring.coreos.com v1 servicemonitors - ns:kube-prometheus-stack=13
    name:my-kube-prometheus-stack-alertmanager=1 name:my-kube-prometheus-stack-apiserver=1
    name:my-kube-prometheus-stack-coredns=1 name:my-kube-prometheus-stack-grafana=1
13 system:node:k8s-node-1-perfspec watch - v1 secrets - ns:kube-prometheus-stack=6 ns:argo-cd=3
    ns:gatekeeper-system=3 ns:grafana=1 name:gatekeeper-webhook-server-cert=3
    name:alertmanager-my-kube-prometheus-stack-alertmanager-generated=1
    name:alertmanager-my-kube-prometheus-stack-alertmanager-tls-assets-0=1
    name:alertmanager-my-kube-prometheus-stack-alertmanager-web-config=1
12 kubernetes-admin get apiextensions.k8s.io v1 customresourcedefinitions -
    name:applications.argoproj.io=4 name:applicationsets.argoproj.io=4
    name:appprojects.argoproj.io=4
12 system:apiserver get /readyz
12 system:node:k8s-master-perfspec watch - v1 configmaps - ns:kube-flannel=6 ns:kube-system=6
    name:kube-root-ca.crt=6 name:kube-flannel-cfg=3 name:kube-proxy=3
12 system:serviceaccount:gatekeeper-system:gatekeeper-admin list mutations.gatekeeper.sh v1
    assignmetadata -
12 system:serviceaccount:gatekeeper-system:gatekeeper-admin list status.gatekeeper.sh v1beta1
    constrainttemplatepodstatuses -
12 system:serviceaccount:gatekeeper-system:gatekeeper-admin list status.gatekeeper.sh v1beta1
    mutatorpodstatuses -
12 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-prometheus watch - v1
    endpoints - ns:kube-prometheus-stack=6 ns:default=3 ns:kube-system=3
12 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-prometheus watch - v1
    pods - ns:kube-prometheus-stack=6 ns:default=3 ns:kube-system=3
12 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-prometheus watch - v1
    services - ns:kube-prometheus-stack=6 ns:default=3 ns:kube-system=3
11 system:node:k8s-master-perfspec get - v1 pods - ns:kube-system=8 ns:kube-prometheus-stack=3
    name:kube-apiserver-k8s-master-perfspec=3 name:kube-scheduler-k8s-master-perfspec=3
    name:my-kube-prometheus-stack-prometheus-node-exporter-ttxbq=3
    name:kube-controller-manager-k8s-master-perfspec=2
11 system:node:k8s-master-perfspec patch - v1 pods status ns:kube-system=8
    ns:kube-prometheus-stack=3 name:kube-apiserver-k8s-master-perfspec=3
    name:kube-scheduler-k8s-master-perfspec=3
    name:my-kube-prometheus-stack-prometheus-node-exporter-ttxbq=3
    name:kube-controller-manager-k8s-master-perfspec=2
11 system:node:k8s-node-1-perfspec list - v1 secrets - ns:kube-prometheus-stack=6 ns:argo-cd=3
    ns:gatekeeper-system=1 ns:grafana=1
    name:alertmanager-my-kube-prometheus-stack-alertmanager-generated=1
    name:alertmanager-my-kube-prometheus-stack-alertmanager-tls-assets-0=1
    name:alertmanager-my-kube-prometheus-stack-alertmanager-web-config=1
    name:argocd-dex-server-tls=1
11 system:serviceaccount:argo-cd:argocd-server get - v1 secrets - ns:argo-cd=11
    name:argocd-server-tls=10 name:argocd-initial-admin-secret=1
11 system:serviceaccount:gatekeeper-system:gatekeeper-admin list externaldata.gatekeeper.sh
    v1beta1 providers -
11 system:serviceaccount:gatekeeper-system:gatekeeper-admin list mutations.gatekeeper.sh v1
    assign -
11 system:serviceaccount:gatekeeper-system:gatekeeper-admin list mutations.gatekeeper.sh v1
    modifyset -
11 system:serviceaccount:gatekeeper-system:gatekeeper-admin list status.gatekeeper.sh v1beta1
    constraintpodstatuses -
11 system:serviceaccount:kube-system:job-controller update batch v1 jobs status
    ns:kube-prometheus-stack=5 ns:ingress-nginx=4 ns:cert-manager=2
    name:my-kube-prometheus-stack-admission-create=3 name:my-cert-manager-startupapicheck=2
    name:my-ingress-nginx-admission-create=2 name:my-ingress-nginx-admission-patch=2
11 system:serviceaccount:kube-system:statefulset-controller create - v1 events - ns:redis=4
    ns:kube-prometheus-stack=2 ns:postgresql=2 ns:prometheus=2
10 kubernetes-admin list - v1 secrets - ns:argo-cd=1 ns:cert-manager=1 ns:grafana=1
    ns:ingress-nginx=1
10 kubernetes-admin watch batch v1 jobs - ns:ingress-nginx=4 ns:kube-prometheus-stack=4
    ns:cert-manager=2 name:my-cert-manager-startupapicheck=2
    name:my-ingress-nginx-admission-create=2 name:my-ingress-nginx-admission-patch=2
    name:my-kube-prometheus-stack-admission-create=2
10 system:node:k8s-node-2-perfspec watch - v1 secrets - ns:argo-cd=3 ns:gatekeeper-system=3
    ns:kube-prometheus-stack=2 ns:ingress-nginx=1 name:gatekeeper-webhook-server-cert=3
    name:argocd-dex-server-tls=1 name:argocd-repo-server-tls=1 name:my-argo-cd-argocd-redis=1
10 system:serviceaccount:gatekeeper-system:gatekeeper-admin list config.gatekeeper.sh v1alpha1
    configs -
10 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-grafana watch - v1
    configmaps - ns:kube-prometheus-stack=10
10 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-grafana watch - v1
    secrets - ns:kube-prometheus-stack=10
9 kubernetes-admin create - v1 namespaces -
9 kubernetes-admin delete - v1 serviceaccounts - ns:ingress-nginx=4 ns:kube-prometheus-stack=4
    ns:cert-manager=1 name:my-ingress-nginx-admission=4
    name:my-kube-prometheus-stack-admission=4 name:my-cert-manager-startupapicheck=1
9 kubernetes-admin delete batch v1 jobs - ns:ingress-nginx=4 ns:kube-prometheus-stack=4
    ns:cert-manager=1 name:my-ingress-nginx-admission-create=2
    name:my-ingress-nginx-admission-patch=2 name:my-kube-prometheus-stack-admission-create=2
    name:my-kube-prometheus-stack-admission-patch=2
9 kubernetes-admin delete rbac.authorization.k8s.io v1 rolebindings - ns:ingress-nginx=4
    ns:kube-prometheus-stack=4 ns:cert-manager=1 name:my-ingress-nginx-admission=4
    name:my-kube-prometheus-stack-admission=4 name:my-cert-manager-startupapicheck:create-cert=1
9 kubernetes-admin delete rbac.authorization.k8s.io v1 roles - ns:ingress-nginx=4
    ns:kube-prometheus-stack=4 ns:cert-manager=1 name:my-ingress-nginx-admission=4
    name:my-kube-prometheus-stack-admission=4 name:my-cert-manager-startupapicheck:create-cert=1
9 kubernetes-admin get /openapi/v2
9 system:node:k8s-node-2-perfspec list - v1 secrets - ns:argo-cd=3 ns:kube-prometheus-stack=3
    ns:gatekeeper-system=1 ns:ingress-nginx=1 name:my-kube-prometheus-stack-admission=2
    name:argocd-dex-server-tls=1 name:argocd-repo-server-tls=1
    name:gatekeeper-webhook-server-cert=1
9 system:serviceaccount:argo-cd:argocd-application-controller get - v1 secrets - ns:argo-cd=9
    name:argocd-server-tls=9
9 system:serviceaccount:cert-manager:my-cert-manager-cainjector get coordination.k8s.io v1
    leases - ns:kube-system=9 name:cert-manager-cainjector-leader-election=9
9 system:serviceaccount:kube-flannel:flannel watch - v1 nodes -
9 system:serviceaccount:kube-system:job-controller create - v1 events - ns:ingress-nginx=4
    ns:kube-prometheus-stack=4 ns:cert-manager=1
9 system:serviceaccount:kube-system:kube-proxy watch - v1 nodes - name:k8s-master-perfspec=3
    name:k8s-node-1-perfspec=3 name:k8s-node-2-perfspec=3
9 system:serviceaccount:kube-system:kube-proxy watch - v1 services -
9 system:serviceaccount:kube-system:kube-proxy watch discovery.k8s.io v1 endpointslices -
8 kubernetes-admin delete rbac.authorization.k8s.io v1 clusterrolebindings -
    name:my-ingress-nginx-admission=4 name:my-kube-prometheus-stack-admission=4
8 kubernetes-admin delete rbac.authorization.k8s.io v1 clusterroles -
    name:my-ingress-nginx-admission=4 name:my-kube-prometheus-stack-admission=4
8 system:kube-scheduler patch - v1 pods status ns:prometheus=5 ns:redis=2 ns:postgresql=1
    name:my-postgresql-0=1 name:my-prometheus-alertmanager-0=1
    name:my-prometheus-prometheus-node-exporter-2wsj6=1
    name:my-prometheus-prometheus-node-exporter-5lgvd=1
8 system:node:k8s-node-1-perfspec create - v1 serviceaccounts token ns:argo-cd=3
    ns:kube-prometheus-stack=2 ns:cert-manager=1 ns:grafana=1
    name:argocd-applicationset-controller=1 name:argocd-server=1 name:default=1
    name:my-cert-manager-startupapicheck=1
8 system:serviceaccount:cert-manager:my-cert-manager get coordination.k8s.io v1 leases -
    ns:kube-system=8 name:cert-manager-controller=8
8 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-prometheus list - v1
    endpoints - ns:kube-prometheus-stack=4 ns:default=2 ns:kube-system=2
8 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-prometheus list - v1 pods
    - ns:kube-prometheus-stack=4 ns:default=2 ns:kube-system=2
8 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-prometheus list - v1
    services - ns:kube-prometheus-stack=4 ns:default=2 ns:kube-system=2
8 system:serviceaccount:kube-system:clusterrole-aggregation-controller patch
    rbac.authorization.k8s.io v1 clusterroles - name:admin=4 name:edit=3 name:view=1
8 system:serviceaccount:kube-system:resourcequota-controller get /api
8 system:serviceaccount:kube-system:resourcequota-controller get /api/v1
8 system:serviceaccount:kube-system:resourcequota-controller get /apis
7 system:apiserver get rbac.authorization.k8s.io v1 rolebindings - ns:kube-system=6
    ns:kube-public=1 name:system:controller:bootstrap-signer=2
    name:system::extension-apiserver-authentication-reader=1
    name:system::leader-locking-kube-controller-manager=1
    name:system::leader-locking-kube-scheduler=1
7 system:apiserver get rbac.authorization.k8s.io v1 roles - ns:kube-system=6 ns:kube-public=1
    name:system:controller:bootstrap-signer=2 name:extension-apiserver-authentication-reader=1
    name:system::leader-locking-kube-controller-manager=1
    name:system::leader-locking-kube-scheduler=1
7 system:apiserver list - v1 services -
7 system:apiserver list flowcontrol.apiserver.k8s.io v1beta2 flowschemas -
7 system:apiserver list flowcontrol.apiserver.k8s.io v1beta2 prioritylevelconfigurations -
7 system:node:k8s-node-1-perfspec patch - v1 events - ns:cert-manager=2
    ns:kube-prometheus-stack=2 ns:default=1 ns:grafana=1
    name:alertmanager-my-kube-prometheus-stack-alertmanager-0.173e3de28444279f=1
    name:alertmanager-my-kube-prometheus-stack-alertmanager-0.173e3de28a9a7aca=1
    name:my-airflow-run-airflow-migrations-kr2f2.173d5a8c89be812a=1
    name:my-cert-manager-startupapicheck-vkvtm.173e3decfa688881=1
7 system:serviceaccount:argo-cd:argocd-server watch - v1 configmaps - ns:argo-cd=7
7 system:serviceaccount:argo-cd:argocd-server watch - v1 secrets - ns:argo-cd=7
7 system:serviceaccount:kube-system:daemon-set-controller update apps v1 daemonsets status
    ns:kube-prometheus-stack=6 ns:prometheus=1
    name:my-kube-prometheus-stack-prometheus-node-exporter=6
    name:my-prometheus-prometheus-node-exporter=1
7 system:serviceaccount:kube-system:generic-garbage-collector get /api
7 system:serviceaccount:kube-system:generic-garbage-collector get /api/v1
7 system:serviceaccount:kube-system:generic-garbage-collector get /apis
7 system:serviceaccount:kube-system:statefulset-controller create - v1 pods -
    ns:kube-prometheus-stack=2 ns:redis=2 ns:argo-cd=1 ns:postgresql=1
7 system:serviceaccount:kube-system:statefulset-controller create apps v1 controllerrevisions -
    ns:kube-prometheus-stack=2 ns:redis=2 ns:argo-cd=1 ns:postgresql=1
6 kubernetes-admin get apps v1 statefulsets - ns:argo-cd=2 ns:redis=2 ns:postgresql=1
    ns:prometheus=1 name:my-argo-cd-argocd-application-controller=2 name:my-postgresql=1
    name:my-prometheus-alertmanager=1 name:my-redis-master=1
6 system:serviceaccount:cert-manager:my-cert-manager list acme.cert-manager.io v1 challenges -
6 system:serviceaccount:cert-manager:my-cert-manager list acme.cert-manager.io v1 orders -
6 system:serviceaccount:cert-manager:my-cert-manager list cert-manager.io v1 certificaterequests
    -
6 system:serviceaccount:cert-manager:my-cert-manager list cert-manager.io v1 certificates -
6 system:serviceaccount:cert-manager:my-cert-manager list cert-manager.io v1 clusterissuers -
6 system:serviceaccount:cert-manager:my-cert-manager list cert-manager.io v1 issuers -
6 system:serviceaccount:cert-manager:my-cert-manager-cainjector update coordination.k8s.io v1
    leases - ns:kube-system=6 name:cert-manager-cainjector-leader-election=6
6 system:serviceaccount:gatekeeper-system:gatekeeper-admin watch apiextensions.k8s.io v1
    customresourcedefinitions -
6 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-operator create - v1
    secrets - ns:kube-prometheus-stack=6
6 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-prometheus get /metrics
6 system:serviceaccount:kube-system:coredns watch - v1 namespaces -
6 system:serviceaccount:kube-system:coredns watch - v1 services -
6 system:serviceaccount:kube-system:coredns watch discovery.k8s.io v1 endpointslices -
6 system:serviceaccount:kube-system:daemon-set-controller create - v1 events -
    ns:kube-prometheus-stack=3 ns:prometheus=3
6 system:serviceaccount:kube-system:daemon-set-controller create - v1 pods -
    ns:kube-prometheus-stack=3 ns:prometheus=3
6 system:serviceaccount:kube-system:replicaset-controller get apps v1 replicasets -
    ns:cert-manager=3 ns:kubernetes-dashboard=2 ns:argo-cd=1
    name:my-kubernetes-dashboard-6c4fdd7866=2 name:my-argo-cd-argocd-redis-55ccdd4fcc=1
    name:my-cert-manager-767dc59795=1 name:my-cert-manager-cainjector-6fc6455885=1
5 kubernetes-admin create apps v1 statefulsets - ns:redis=2 ns:argo-cd=1 ns:postgresql=1
    ns:prometheus=1
5 kubernetes-admin create batch v1 jobs - ns:ingress-nginx=2 ns:kube-prometheus-stack=2
    ns:cert-manager=1
5 kubernetes-admin list batch v1 jobs - ns:ingress-nginx=2 ns:kube-prometheus-stack=2
    ns:cert-manager=1 name:my-cert-manager-startupapicheck=1
    name:my-ingress-nginx-admission-create=1 name:my-ingress-nginx-admission-patch=1
    name:my-kube-prometheus-stack-admission-create=1
5 system:kube-controller-manager delete - v1 secrets - ns:ingress-nginx=2
    ns:kube-prometheus-stack=2 ns:cert-manager=1
    name:my-cert-manager-startupapicheck-token-2dxc2=1
    name:my-ingress-nginx-admission-token-bfctz=1 name:my-ingress-nginx-admission-token-ljwwt=1
    name:my-kube-prometheus-stack-admission-token-9qqrx=1
5 system:serviceaccount:cert-manager:my-cert-manager update coordination.k8s.io v1 leases -
    ns:kube-system=5 name:cert-manager-controller=5
5 system:serviceaccount:gatekeeper-system:gatekeeper-admin get /api
5 system:serviceaccount:gatekeeper-system:gatekeeper-admin get /api/v1
5 system:serviceaccount:gatekeeper-system:gatekeeper-admin get /apis
5 system:serviceaccount:kube-system:job-controller create - v1 pods - ns:ingress-nginx=2
    ns:kube-prometheus-stack=2 ns:cert-manager=1
5 system:serviceaccount:kube-system:persistent-volume-binder create - v1 events -
    ns:prometheus=2 ns:redis=2 ns:postgresql=1
5 system:serviceaccount:kube-system:persistent-volume-binder update - v1 persistentvolumeclaims
    - ns:prometheus=2 ns:redis=2 ns:postgresql=1 name:data-my-postgresql-0=1
    name:my-prometheus-server=1 name:redis-data-my-redis-master-0=1
    name:redis-data-my-redis-replicas-0=1
4 system:kube-controller-manager get /api
4 system:kube-controller-manager get /api/v1
4 system:kube-controller-manager get /apis
4 system:node:k8s-master-perfspec create - v1 events - ns:kube-prometheus-stack=3
    ns:kube-system=1
4 system:node:k8s-master-perfspec list - v1 configmaps - ns:kube-flannel=2 ns:kube-system=2
    name:kube-root-ca.crt=2 name:kube-flannel-cfg=1 name:kube-proxy=1
4 system:serviceaccount:argo-cd:argocd-server list - v1 configmaps - ns:argo-cd=4
4 system:serviceaccount:argo-cd:argocd-server list - v1 secrets - ns:argo-cd=4
4 system:serviceaccount:gatekeeper-system:gatekeeper-admin get apiextensions.k8s.io v1
    customresourcedefinitions - name:constrainttemplates.templates.gatekeeper.sh=4
4 system:serviceaccount:kube-system:disruption-controller create - v1 events - ns:default=4
4 system:serviceaccount:kube-system:generic-garbage-collector delete - v1 pods -
    ns:ingress-nginx=2 ns:kube-prometheus-stack=2 name:my-ingress-nginx-admission-create-wdd2k=1
    name:my-ingress-nginx-admission-patch-v6mhc=1
    name:my-kube-prometheus-stack-admission-create-48n9x=1
    name:my-kube-prometheus-stack-admission-patch-jgfg7=1
4 system:serviceaccount:kube-system:generic-garbage-collector get - v1 pods - ns:ingress-nginx=2
    ns:kube-prometheus-stack=2 name:my-ingress-nginx-admission-create-wdd2k=1
    name:my-ingress-nginx-admission-patch-v6mhc=1
    name:my-kube-prometheus-stack-admission-create-48n9x=1
    name:my-kube-prometheus-stack-admission-patch-jgfg7=1
4 system:serviceaccount:kube-system:statefulset-controller create - v1 persistentvolumeclaims -
    ns:redis=2 ns:postgresql=1 ns:prometheus=1
3 kubernetes-admin create admissionregistration.k8s.io v1 validatingwebhookconfigurations -
3 kubernetes-admin get admissionregistration.k8s.io v1 validatingwebhookconfigurations -
    name:my-cert-manager-webhook=1 name:my-ingress-nginx-admission=1
    name:my-kube-prometheus-stack-admission=1
3 system:node:k8s-master-perfspec watch - v1 nodes - name:k8s-master-perfspec=3
3 system:node:k8s-master-perfspec watch - v1 pods -
3 system:node:k8s-master-perfspec watch - v1 services -
3 system:node:k8s-master-perfspec watch node.k8s.io v1 runtimeclasses -
3 system:node:k8s-master-perfspec watch storage.k8s.io v1 csidrivers -
3 system:node:k8s-node-1-perfspec watch - v1 nodes - name:k8s-node-1-perfspec=3
3 system:node:k8s-node-1-perfspec watch - v1 pods -
3 system:node:k8s-node-1-perfspec watch - v1 services -
3 system:node:k8s-node-1-perfspec watch node.k8s.io v1 runtimeclasses -
3 system:node:k8s-node-1-perfspec watch storage.k8s.io v1 csidrivers -
3 system:node:k8s-node-2-perfspec watch - v1 nodes - name:k8s-node-2-perfspec=3
3 system:node:k8s-node-2-perfspec watch - v1 pods -
3 system:node:k8s-node-2-perfspec watch - v1 services -
3 system:node:k8s-node-2-perfspec watch node.k8s.io v1 runtimeclasses -
3 system:node:k8s-node-2-perfspec watch storage.k8s.io v1 csidrivers -
3 system:serviceaccount:argo-cd:argocd-applicationset-controller get - v1 secrets - ns:argo-cd=3
    name:argocd-server-tls=3
3 system:serviceaccount:argo-cd:argocd-server update - v1 secrets - ns:argo-cd=3
    name:argocd-secret=2 name:argocd-initial-admin-secret=1
3 system:serviceaccount:gatekeeper-system:gatekeeper-admin update admissionregistration.k8s.io
    v1 mutatingwebhookconfigurations - name:gatekeeper-mutating-webhook-configuration=3
3 system:serviceaccount:gatekeeper-system:gatekeeper-admin update admissionregistration.k8s.io
    v1 validatingwebhookconfigurations - name:gatekeeper-validating-webhook-configuration=3
3 system:serviceaccount:gatekeeper-system:gatekeeper-admin watch - v1 namespaces -
3 system:serviceaccount:gatekeeper-system:gatekeeper-admin watch - v1 secrets -
    ns:gatekeeper-system=3
3 system:serviceaccount:gatekeeper-system:gatekeeper-admin watch admissionregistration.k8s.io v1
    mutatingwebhookconfigurations -
3 system:serviceaccount:gatekeeper-system:gatekeeper-admin watch admissionregistration.k8s.io v1
    validatingwebhookconfigurations -
3 system:serviceaccount:ingress-nginx:my-ingress-nginx get - v1 services - ns:ingress-nginx=3
    name:my-ingress-nginx-controller=3
3 system:serviceaccount:kube-flannel:flannel list - v1 nodes -
3 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-operator get /version
3 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-operator list - v1
    namespaces -
3 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-operator list apps v1
    statefulsets -
3 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-operator watch - v1
    namespaces -
3 system:serviceaccount:kube-prometheus-stack:my-kube-prometheus-stack-operator watch apps v1
    statefulsets -
3 system:serviceaccount:kube-system:generic-garbage-collector get apps v1 deployments -
    ns:gatekeeper-system=2 ns:kube-system=1 name:coredns=1 name:gatekeeper-audit=1
    name:gatekeeper-controller-manager=1
3 system:serviceaccount:kube-system:generic-garbage-collector get apps v1 replicasets -
    ns:gatekeeper-system=2 ns:kube-system=1 name:coredns-57c764b5cf=1
    name:gatekeeper-audit-677645cd4d=1 name:gatekeeper-controller-manager-754779b8f=1
3 system:serviceaccount:kube-system:kube-proxy list - v1 nodes - name:k8s-master-perfspec=1
    name:k8s-node-1-perfspec=1 name:k8s-node-2-perfspec=1
3 system:serviceaccount:kube-system:kube-proxy list - v1 services -
3 system:serviceaccount:kube-system:kube-proxy list discovery.k8s.io v1 endpointslices -
3 system:serviceaccount:kube-system:node-controller create - v1 events - ns:default=3
"""

if __name__ == "__main__":
    sys.exit(main())
