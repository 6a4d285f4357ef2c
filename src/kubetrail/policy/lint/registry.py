"""Every lint rule, by code. Adding a rule: one module in ``rules/``, one line here.

Codes are never reused; a renamed or merged rule keeps its old code in ``REDIRECTS``.
"""

from __future__ import annotations

from typing import Final

from kubetrail.policy.lint.base import LintRule
from kubetrail.policy.lint.rules.kt001_invalid_policy import InvalidPolicy
from kubetrail.policy.lint.rules.kt002_unknown_field import UnknownField
from kubetrail.policy.lint.rules.kt003_duplicate_field import DuplicateField
from kubetrail.policy.lint.rules.kt004_removed_api_version import RemovedApiVersion
from kubetrail.policy.lint.rules.kt005_shadowed_rule import ShadowedRule
from kubetrail.policy.lint.rules.kt006_never_matches import NeverMatches
from kubetrail.policy.lint.rules.kt007_wrong_api_group import WrongApiGroup
from kubetrail.policy.lint.rules.kt008_unknown_resource import UnknownResource
from kubetrail.policy.lint.rules.kt009_resource_names_without_name import (
    ResourceNamesWithoutName,
)
from kubetrail.policy.lint.rules.kt101_secret_values_logged import SecretValuesLogged
from kubetrail.policy.lint.rules.kt102_token_logged import TokenLogged
from kubetrail.policy.lint.rules.kt103_configmap_values_logged import ConfigmapValuesLogged
from kubetrail.policy.lint.rules.kt104_secret_reads_partial import SecretReadsPartial
from kubetrail.policy.lint.rules.kt105_pod_subresources_missed import PodSubresourcesMissed
from kubetrail.policy.lint.rules.kt106_exec_create_only import ExecCreateOnly
from kubetrail.policy.lint.rules.kt107_no_catch_all import NoCatchAll
from kubetrail.policy.lint.rules.kt108_logs_nothing import LogsNothing
from kubetrail.policy.lint.rules.kt109_broad_identity_unlogged import BroadIdentityUnlogged
from kubetrail.policy.lint.rules.kt110_events_unlogged import EventsUnlogged
from kubetrail.policy.lint.rules.kt201_request_received_kept import RequestReceivedKept
from kubetrail.policy.lint.rules.kt202_managed_fields_kept import ManagedFieldsKept

RULES: Final[tuple[type[LintRule], ...]] = (
    InvalidPolicy,
    UnknownField,
    DuplicateField,
    RemovedApiVersion,
    ShadowedRule,
    NeverMatches,
    WrongApiGroup,
    UnknownResource,
    ResourceNamesWithoutName,
    SecretValuesLogged,
    TokenLogged,
    ConfigmapValuesLogged,
    SecretReadsPartial,
    PodSubresourcesMissed,
    ExecCreateOnly,
    NoCatchAll,
    LogsNothing,
    BroadIdentityUnlogged,
    EventsUnlogged,
    RequestReceivedKept,
    ManagedFieldsKept,
)
BY_CODE: Final = {rule.code: rule for rule in RULES}
REDIRECTS: Final[dict[str, str]] = {}


def get_rule(code: str) -> type[LintRule]:
    """The rule with ``code`` (or the one it was renamed to); KeyError if there is none."""
    return BY_CODE[REDIRECTS.get(code.upper(), code.upper())]
