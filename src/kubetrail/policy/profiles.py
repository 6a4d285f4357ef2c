"""The fixed audit policies of managed platforms, bundled so they can be analysed offline.

Users of GKE, EKS, AKS and OpenShift cannot change their control plane's policy; they can
still know what it logs. Each profile is a policy file in ``kubetrail/data/profiles`` (see
``PROVENANCE.md`` there for where it comes from).
"""

from __future__ import annotations

from importlib import resources
from typing import Final

import msgspec

from kubetrail.errors import InputError


class Profile(msgspec.Struct, frozen=True):
    """A managed platform's policy: its name, file and what to know about it."""

    name: str
    file: str
    description: str
    caveat: str = ""


PROFILES: Final = {
    p.name: p
    for p in (
        Profile(
            "gke",
            "gke.yaml",
            "GCE/GKE reference policy (kubernetes cluster/gce configure-helper.sh)",
            "GKE generates its policy from this script; managed GKE may differ in details",
        ),
        Profile(
            "eks",
            "eks.yaml",
            "Amazon EKS control-plane policy as published in the EKS best-practices guide",
            "published as audit.k8s.io/v1beta1; analysed as the v1 equivalent",
        ),
        Profile(
            "openshift-default",
            "openshift-default.yaml",
            "OpenShift audit profile Default (metadata for everything, bodies for identity)",
        ),
        Profile(
            "openshift-writerequestbodies",
            "openshift-writerequestbodies.yaml",
            "OpenShift audit profile WriteRequestBodies",
        ),
        Profile(
            "openshift-allrequestbodies",
            "openshift-allrequestbodies.yaml",
            "OpenShift audit profile AllRequestBodies",
        ),
        Profile(
            "aks-kube-audit",
            "aks-kube-audit.yaml",
            "AKS diagnostic category kube-audit (every request)",
            "AKS publishes no policy: levels are assumed to be Metadata",
        ),
        Profile(
            "aks-kube-audit-admin",
            "aks-kube-audit-admin.yaml",
            "AKS diagnostic category kube-audit-admin (every request but get and list)",
            "AKS publishes no policy: levels are assumed to be Metadata",
        ),
    )
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; a clear error listing the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise InputError(f"unknown profile {name!r}; known profiles: {known}") from None


def profile_bytes(profile: Profile) -> bytes:
    """The profile's policy file."""
    return resources.files("kubetrail").joinpath("data", "profiles", profile.file).read_bytes()
