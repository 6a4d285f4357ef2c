"""Loading: strict-then-lenient decoding, apiVersion handling, type errors, hostile files, and
the nine real policies of the corpus with the outcome kube-apiserver gives them."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest

from kubetrail.errors import InputError, PolicyError
from kubetrail.model.diagnostic import Severity
from kubetrail.policy.load import load_policy, parse_policy

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\n"


def load_text(text: str) -> object:
    return parse_policy(textwrap.dedent(text), source="p.yaml")


def refuse(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        parse_policy(textwrap.dedent(text), source="p.yaml")
    return info.value


# -- strict, then lenient ----------------------------------------------------------------------


def test_unknown_key_is_a_warning_with_line_and_did_you_mean() -> None:
    loaded = parse_policy(
        HEAD + "rules:\n- level: Metadata\n  resources:\n  - group: x.io\n    resource: [a]\n",
        source="p.yaml",
    )
    (warning,) = loaded.warnings
    assert warning.severity is Severity.WARNING
    assert warning.location.line == 7
    assert warning.location.field == "rules[0].resources[0].resource"
    assert warning.hint == 'did you mean "resources"?'
    # Lenient decoding drops the key: the entry now matches every resource of the group.
    assert loaded.policy.rules[0].resources[0].resources == []


def test_miscased_key_is_unknown() -> None:
    loaded = parse_policy(HEAD + "rules:\n- level: None\n  Verbs: [get]\n")
    (warning,) = loaded.warnings
    assert warning.hint == 'did you mean "verbs"?'
    assert loaded.policy.rules[0].verbs == []


def test_duplicate_key_warns_and_last_wins() -> None:
    loaded = parse_policy(HEAD + "rules:\n- level: None\n  level: Metadata\n", source="p.yaml")
    (warning,) = loaded.warnings
    assert "duplicate" in warning.message
    assert warning.location.line == 5
    assert loaded.policy.rules[0].level == "Metadata"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("rules:\n- level: 5\n", "rules[0].level"),
        ("rules:\n- level: None\n  users: tim\n", "rules[0].users"),
        ('rules:\n- level: None\n  omitManagedFields: "true"\n', "rules[0].omitManagedFields"),
        ("rules:\n- level: None\n  users: [yes]\n", "rules[0].users[0]"),
        ("rules: {level: None}\n", "rules"),
        ("rules:\n- level: None\n  resources: [pods]\n", "rules[0].resources[0]"),
    ],
)
def test_type_errors_are_fatal(body: str, field: str) -> None:
    err = refuse(HEAD + body)
    (diag,) = err.diagnostics
    assert diag.message.startswith(f"failed decoding: {field}: cannot decode")
    assert diag.location.line is not None


def test_null_values_are_go_zero_values() -> None:
    loaded = load_text(HEAD + "omitStages:\nrules:\n- level: None\n  users: ~\n  verbs: [~]\n")
    assert loaded.policy.rules[0].users == []  # type: ignore[attr-defined]
    assert loaded.policy.rules[0].verbs == [""]  # type: ignore[attr-defined]


# -- apiVersion and kind -----------------------------------------------------------------------


def test_missing_api_version_is_fatal() -> None:
    err = refuse("kind: Policy\nrules:\n- level: None\n")
    assert err.message == (
        "unknown group version field audit.k8s.io/__internal, Kind=Policy in policy: "
        "from file p.yaml"
    )


def test_missing_kind_is_accepted() -> None:
    load_text("apiVersion: audit.k8s.io/v1\nrules:\n- level: None\n")


@pytest.mark.parametrize("version", ["audit.k8s.io/v1beta1", "audit.k8s.io/v1alpha1"])
def test_removed_versions_are_refused_with_a_hint(version: str) -> None:
    err = refuse(f"apiVersion: {version}\nkind: Policy\nrules:\n- level: None\n")
    (diag,) = err.diagnostics
    assert (
        diag.message == f'failed decoding: no kind "Policy" is registered for version "{version}"'
    )
    assert diag.hint is not None
    assert "audit.k8s.io/v1" in diag.hint
    assert "1.24" in diag.hint
    assert diag.location.line == 1


def test_other_kind_of_the_group_is_refused() -> None:
    err = refuse("apiVersion: audit.k8s.io/v1\nkind: Event\nrules:\n- level: None\n")
    assert "cannot be converted to Policy" in err.message


@pytest.mark.parametrize("text", ["", "---\n", "# only a comment\n"])
def test_empty_document_fails_the_group_version_check(text: str) -> None:
    err = refuse(text)
    assert "unknown group version field" in err.message


@pytest.mark.parametrize("text", ["[1, 2]\n", "just text\n", "42\n"])
def test_non_object_document(text: str) -> None:
    err = refuse(text)
    assert err.message.startswith("failed decoding:")


def test_json_policy() -> None:
    loaded = load_text('{"apiVersion": "audit.k8s.io/v1", "rules": [{"level": "Metadata"}]}')
    assert loaded.policy.rules[0].level == "Metadata"  # type: ignore[attr-defined]


# -- hostile files: a clear error, never a traceback, bounded time ------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_policy(str(tmp_path / "nope.yaml"))


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="directory"):
        load_policy(str(tmp_path))


def test_binary_junk(tmp_path: Path) -> None:
    path = tmp_path / "junk.yaml"
    path.write_bytes(os.urandom(4096) + b"\x00\xff\xfe")
    with pytest.raises(InputError):
        load_policy(str(path))


def test_hundred_megabyte_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with open(path, "wb") as fh:
        fh.truncate(100 * 1024 * 1024)  # sparse: costs no disk
    start = time.perf_counter()
    with pytest.raises(InputError, match="bytes"):
        load_policy(str(path))
    assert time.perf_counter() - start < 1.0


def test_alias_bomb_is_bounded(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    lines.append("apiVersion: audit.k8s.io/v1\nrules:\n- level: None\n  users: *a11")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    start = time.perf_counter()
    with pytest.raises(InputError):
        load_policy(str(path))
    assert time.perf_counter() - start < 5.0


def test_syntax_error_has_a_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD + "rules:\n- level: None\n  users: [a, b\n")
    with pytest.raises(InputError) as info:
        load_policy(str(path))
    assert info.value.line is not None
    assert str(path) in str(info.value)


# -- the corpus: nine real policies ------------------------------------------------------------

VALID = [
    "gce-gke-configure-helper.yaml",
    "k8s-docs-example.yaml",
    "kubespray-default.yaml",
    "openshift-default.yaml",
    "rke2-default.yaml",
    "falco-k8saudit.yaml",
]


@pytest.mark.parametrize("name", VALID)
def test_corpus_policy_is_valid(corpus: Path, name: str) -> None:
    loaded = load_policy(str(corpus / "policies" / name))
    assert loaded.policy.rules
    assert loaded.warnings == ()


def test_corpus_eks_v1beta1_is_refused(corpus: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(str(corpus / "policies" / "eks-best-practices.yaml"))
    assert 'no kind "Policy" is registered for version "audit.k8s.io/v1beta1"' in str(info.value)


@pytest.mark.parametrize(
    "name", ["openshift-writerequestbodies.yaml", "openshift-allrequestbodies.yaml"]
)
def test_corpus_openshift_resource_typo_is_warned(corpus: Path, name: str) -> None:
    path = corpus / "policies" / name
    loaded = load_policy(str(path))
    typos = [
        w for w in loaded.warnings if w.location.field and w.location.field.endswith(".resource")
    ]
    assert len(typos) == 1
    (typo,) = typos
    assert typo.hint == 'did you mean "resources"?'
    line = path.read_text().splitlines()[typo.location.line - 1]  # type: ignore[operator]
    assert "resource:" in line
