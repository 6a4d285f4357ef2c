"""The bundled built-in API discovery data, per Kubernetes version.

Each version-specific claim names where it was checked upstream (see also
``src/kubetrail/data/PROVENANCE.md``). "website gate X" means kubernetes/website
``content/en/docs/reference/command-line-tools-reference/feature-gates/X.md``.
"""

from __future__ import annotations

import importlib.resources

import pytest

from kubetrail.catalog.discovery import Discovery, ResourceInfo, load_discovery
from kubetrail.policy.validate import NEWEST, OLDEST, KubeVersion

ALL = [KubeVersion(1, m) for m in range(OLDEST[1], NEWEST[1] + 1)]
CRUD = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}


def at(minor: int) -> Discovery:
    return load_discovery(KubeVersion(1, minor))


def served(minor: int, group: str, resource: str) -> bool | None:
    """None if the resource does not exist in 1.<minor>, else whether it is on by default."""
    info = at(minor).lookup(group, resource)
    return None if info is None else info.served_by_default


@pytest.mark.parametrize("version", ALL, ids=str)
def test_every_supported_version_loads(version: KubeVersion) -> None:
    d = load_discovery(version)
    assert d.version == version
    assert {"", "apps", "batch", "rbac.authorization.k8s.io", "policy"} <= d.groups()
    for group in d.groups():
        infos = d.resources(group)
        assert infos, group
        assert [i.resource for i in infos] == sorted(i.resource for i in infos)
        assert all(isinstance(i, ResourceInfo) and i.group == group for i in infos)


@pytest.mark.parametrize("version", ALL, ids=str)
def test_deployments_are_in_apps_not_core(version: KubeVersion) -> None:
    d = load_discovery(version)
    assert d.lookup("", "deployments") is None
    info = d.lookup("apps", "deployments")
    assert info is not None
    assert info.namespaced
    assert info.served_by_default
    assert info.subresources == {"scale", "status"}
    assert info.verbs == CRUD
    assert d.groups_serving("deployments") == ["apps"]
    assert d.groups_serving("deployments/scale") == ["apps"]


def test_groups_serving_lists_every_group_core_first() -> None:
    assert at(36).groups_serving("events") == ["", "events.k8s.io"]
    assert at(36).groups_serving("no-such-thing") == []


@pytest.mark.parametrize("version", ALL, ids=str)
def test_pod_subresources(version: KubeVersion) -> None:
    d = load_discovery(version)
    expected = {"exec", "attach", "portforward", "log", "ephemeralcontainers", "eviction"}
    expected |= {"binding", "status", "proxy"}
    pods = d.lookup("", "pods")
    assert pods is not None
    assert pods.namespaced
    assert expected <= pods.subresources
    for sub in expected:
        assert d.has_subresource("", "pods", sub)
    assert not d.has_subresource("", "pods", "scale")
    assert not d.has_subresource("apps", "pods", "exec")
    assert d.lookup("", "pods/exec") == pods


def test_pods_resize_is_registered_only_from_1_32() -> None:
    # storage_core.go registers pods/resize only with the InPlacePodVerticalScaling gate;
    # kubectl 1.32 is the first with --subresource=resize (website resize-pod-resources).
    assert not at(31).has_subresource("", "pods", "resize")
    assert at(32).has_subresource("", "pods", "resize")
    assert at(36).has_subresource("", "pods", "resize")


def test_serviceaccount_token() -> None:
    for version in ALL:
        assert load_discovery(version).has_subresource("", "serviceaccounts", "token")


def test_tokenreviews_are_cluster_scoped_create_only() -> None:
    for version in ALL:
        info = load_discovery(version).lookup("authentication.k8s.io", "tokenreviews")
        assert info is not None
        assert not info.namespaced
        assert info.verbs == {"create"}
        assert info.subresources == frozenset()
        assert info.served_by_default


def test_namespaces_have_no_deletecollection() -> None:
    # api/discovery/api__v1.json
    info = at(36).lookup("", "namespaces")
    assert info is not None
    assert "deletecollection" not in info.verbs
    assert info.subresources == {"finalize", "status"}


def test_podsecuritypolicy_is_gone_from_1_25() -> None:
    # deprecation guide, "v1.25": policy/v1beta1 PodSecurityPolicy no longer served.
    psp = at(24).lookup("policy", "podsecuritypolicies")
    assert psp is not None
    assert psp.served_by_default
    assert not psp.namespaced
    for minor in range(25, 37):
        assert at(minor).lookup("policy", "podsecuritypolicies") is None, minor
        assert at(minor).lookup("policy", "poddisruptionbudgets") is not None


def test_flowcontrol_group_in_every_version() -> None:
    # v1beta1/v1beta2/v1beta3/v1 succeed each other (removed 1.26/1.29/1.32, v1 in 1.29),
    # so flowschemas are served by default throughout.
    for version in ALL:
        d = load_discovery(version)
        assert d.is_builtin_group("flowcontrol.apiserver.k8s.io")
        assert served(version.minor, "flowcontrol.apiserver.k8s.io", "flowschemas")


def test_crd_groups_are_not_builtin() -> None:
    d = at(36)
    assert not d.is_builtin_group("example.com")
    assert d.lookup("example.com", "widgets") is None
    assert d.resources("example.com") == []
    assert d.is_builtin_group("")


def test_extensions_is_retired_not_builtin() -> None:
    # deprecation guide "v1.22": extensions/v1beta1 Ingress was the last one served.
    d = at(24)
    assert not d.is_builtin_group("extensions")
    assert d.retired_in("extensions") == "1.22"
    assert d.retired_in("example.com") is None
    assert d.retired_in("apps") is None


def test_validatingadmissionpolicies_default_on_from_1_30() -> None:
    # website gate ValidatingAdmissionPolicy: alpha 1.26-1.27, beta (off) 1.28-1.29, GA 1.30.
    group, resource = "admissionregistration.k8s.io", "validatingadmissionpolicies"
    assert served(25, group, resource) is None
    assert served(26, group, resource) is False
    assert served(29, group, resource) is False
    assert served(30, group, resource) is True
    assert served(36, group, resource) is True


def test_resourceclaims_default_off_before_1_34() -> None:
    # website gate DynamicResourceAllocation (stable 1.34); CHANGELOG-1.35 "GA in v1.34";
    # resource.k8s.io/v1alpha1 first served in 1.26.
    assert served(25, "resource.k8s.io", "resourceclaims") is None
    assert not at(25).is_builtin_group("resource.k8s.io")
    assert served(26, "resource.k8s.io", "resourceclaims") is False
    assert served(33, "resource.k8s.io", "resourceclaims") is False
    assert served(34, "resource.k8s.io", "resourceclaims") is True
    # the classic-DRA resources came and went without ever being on by default
    assert served(30, "resource.k8s.io", "resourceclasses") is False
    assert served(31, "resource.k8s.io", "resourceclasses") is None
    assert served(31, "resource.k8s.io", "podschedulingcontexts") is False
    assert served(32, "resource.k8s.io", "podschedulingcontexts") is None


def test_servicecidrs_default_on_from_1_33() -> None:
    # website gate MultiCIDRServiceAllocator: alpha 1.27-1.30, beta (off) 1.31-1.32, GA 1.33;
    # networking.k8s.io/v1alpha1 ServiceCIDR from 1.29 (IPAddress from 1.27).
    assert served(28, "networking.k8s.io", "servicecidrs") is None
    assert served(29, "networking.k8s.io", "servicecidrs") is False
    assert served(32, "networking.k8s.io", "servicecidrs") is False
    assert served(33, "networking.k8s.io", "servicecidrs") is True
    assert served(27, "networking.k8s.io", "ipaddresses") is False


def test_mutatingadmissionpolicies_default_on_from_1_36() -> None:
    # CHANGELOG-1.36: "Promoted the MutatingAdmissionPolicy to GA (v1)"; v1alpha1 in 1.32.
    group = "admissionregistration.k8s.io"
    assert served(31, group, "mutatingadmissionpolicies") is None
    assert served(32, group, "mutatingadmissionpolicies") is False
    assert served(35, group, "mutatingadmissionpolicies") is False
    assert served(36, group, "mutatingadmissionpolicies") is True


def test_workload_scheduling_apis() -> None:
    # CHANGELOG-1.35: scheduling.k8s.io/v1alpha1 Workload; CHANGELOG-1.36: v1alpha2
    # Workload and PodGroup. website gate GenericWorkload: alpha through 1.36.
    assert served(34, "scheduling.k8s.io", "workloads") is None
    assert served(35, "scheduling.k8s.io", "workloads") is False
    assert served(35, "scheduling.k8s.io", "podgroups") is None
    assert served(36, "scheduling.k8s.io", "podgroups") is False
    assert at(36).has_subresource("scheduling.k8s.io", "podgroups", "status")


def test_alpha_groups_are_builtin_but_not_served_by_default() -> None:
    d = at(36)
    assert d.is_builtin_group("internal.apiserver.k8s.io")
    assert d.is_builtin_group("storagemigration.k8s.io")
    assert not at(29).is_builtin_group("storagemigration.k8s.io")
    for group in ("internal.apiserver.k8s.io", "storagemigration.k8s.io"):
        assert not any(info.served_by_default for info in d.resources(group))


def test_versioned_subresources() -> None:
    # website gate NetworkPolicyStatus: alpha 1.24-1.27, then removed.
    assert at(27).has_subresource("networking.k8s.io", "networkpolicies", "status")
    assert not at(28).has_subresource("networking.k8s.io", "networkpolicies", "status")
    # CHANGELOG-1.35: DeviceTaintRule status.
    assert not at(34).has_subresource("resource.k8s.io", "devicetaintrules", "status")
    assert at(35).has_subresource("resource.k8s.io", "devicetaintrules", "status")


def test_discovery_is_immutable() -> None:
    d = at(30)
    with pytest.raises(AttributeError):
        d.version = KubeVersion(1, 31)
    info = d.lookup("apps", "deployments")
    assert info is not None
    with pytest.raises(AttributeError):
        info.namespaced = False  # type: ignore[misc]
    assert load_discovery(KubeVersion(1, 30)).lookup("apps", "deployments") == info


@pytest.mark.parametrize("version", [KubeVersion(1, 23), KubeVersion(1, 37)], ids=str)
def test_unsupported_versions_are_refused(version: KubeVersion) -> None:
    with pytest.raises(ValueError, match="no discovery data"):
        load_discovery(version)


def test_data_file_is_small() -> None:
    data = importlib.resources.files("kubetrail") / "data" / "discovery.json"
    assert len(data.read_bytes()) < 120 * 1024
