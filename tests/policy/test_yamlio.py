"""read_yaml: go-yaml v2 / sigs.k8s.io/yaml semantics, positions, and hostile input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from kubetrail.errors import InputError
from kubetrail.policy import yamlio
from kubetrail.policy.yamlio import DuplicateKey, Position, read_yaml

CORPUS = Path("/work/shared/corpus/policies")

SCALARS = [
    # resolve.go resolveMap: YAML 1.1 booleans, exact spellings only
    ("yes", True),
    ("Y", True),
    ("On", True),
    ("TRUE", True),
    ("n", False),
    ("NO", False),
    ("off", False),
    ("False", False),
    ("yES", "yES"),  # hint 'M' but not in resolveMap -> string
    # resolve.go resolveMap: nulls; an empty plain scalar is null
    ("~", None),
    ("null", None),
    ("NULL", None),
    ("", None),
    # resolve.go: strconv.ParseInt(plain, 0, 64) after removing "_"
    ("0x1F", 31),
    ("0o17", 15),  # Go 1.13 base prefix
    ("017", 15),  # leading 0 means octal
    ("0b101", 5),
    ("-0b101", -5),
    ("+5", 5),
    ("-5", -5),
    ("1_000", 1000),
    ("1_", 1),  # every "_" is removed before parsing
    ("0", 0),
    ("-0", 0),
    ("9223372036854775807", 9223372036854775807),
    ("9223372036854775808", 9223372036854775808),  # ParseUint: uint64
    ("0x10000000000000000", 2**64),  # ParseUint range error -> big.Int
    ("18446744073709551616", 1.8446744073709552e19),  # decimal: yamlStyleFloat wins first
    ("08", 8),  # bad octal -> yamlStyleFloat 8.0 -> json.Marshal "8"
    ("0b-101", -5),  # resolve.go's extra "0b" branch: ParseInt("-101", 2)
    ("0x", "0x"),
    ("0b2", "0b2"),
    ("_1", "_1"),  # '_' is not a resolve hint
    # no sexagesimal numbers (PyYAML would give 90 and 685230)
    ("1:30", "1:30"),
    ("190:20:30", "190:20:30"),
    # resolve.go: floats by yamlStyleFloat / ParseFloat; json.Marshal prints 1e3 as 1000
    ("1e3", 1000),
    ("1.0", 1),
    ("1.5", 1.5),
    (".5", 0.5),
    ("-.5", -0.5),
    ("+.5", 0.5),
    ("1.", 1),
    ("1e20", 1e20),  # beyond int64: apimachinery reads the JSON number back as float64
    ("1e999", "1e999"),  # ParseFloat range error -> string
    # decode.go: timestamps decoded into interface{} stay strings
    ("2001-12-14", "2001-12-14"),
    ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
    # decode.go scalar(): quoted scalars are strings
    ('"yes"', "yes"),
    ("'123'", "123"),
    ('"~"', "~"),
    # resolve.go: explicit tags
    ("!!str 123", "123"),
    ("!!str yes", "yes"),
    ("!!int '0x10'", 16),  # a tag overrides quoting
    ("!!float 1", 1),  # int converted to float64(1), printed as 1
    ("!!bool yes", True),
    ("!!null ~", None),
    ("!!timestamp 2001-12-14 21:59:43.10", "2001-12-14 21:59:43.10"),
    ("!!binary aGVsbG8=", "hello"),  # decode.go: base64-decoded
    ("! 123", "123"),  # non-specific tag: not resolvable -> string
    ("!custom 42", "42"),  # unknown tag: the string
    ("!!seq x", "x"),
]


@pytest.mark.parametrize(("text", "expected"), SCALARS)
def test_scalar_resolution(text: str, expected: object) -> None:
    value = read_yaml(f"k: {text}\n").value
    assert isinstance(value, dict)
    got = value["k"]
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("!!int abc", "cannot decode !!str `abc` as a !!int"),  # resolve.go deferred check
        ("!!bool 1", "cannot decode !!int `1` as a !!bool"),
        ("!!timestamp x", "cannot decode !!str `x` as a !!timestamp"),
        ("!!binary '***'", "invalid base64"),  # decode.go
        (".nan", "unsupported value: NaN"),  # json.Marshal refuses NaN/Inf
        ("-.Inf", "unsupported value: -Inf"),
        ("*nope", "unknown anchor 'nope'"),
    ],
)
def test_scalar_errors(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("*", r"\*")) as info:
        read_yaml(f"a: 1\nk: {text}\n")
    assert info.value.line == 2


def test_plain_yes_is_a_bool_not_a_string() -> None:
    # YAMLToJSON gets no target type: `users: [yes]` is JSON [true]
    assert read_yaml("users: [yes, no, 'on']").value == {"users": [True, False, "on"]}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("1: x", "1"),  # yaml.go: strconv.Itoa
        ("0x10: x", "16"),
        ("true: x", "true"),
        ("y: x", "true"),  # y is a bool
        ("1.5: x", "1.5"),  # FormatFloat(f, 'g', -1, 32)
        ("1e3: x", "1000"),
        ("0.1: x", "0.1"),
        ("1e6: x", "1e+06"),
        ("123456789.0: x", "1.2345679e+08"),  # float32 precision
        (".inf: x", ".inf"),
        ("-.inf: x", "-.inf"),
        (".nan: x", ".nan"),
        ("2001-01-01: x", "2001-01-01"),
        ("!!binary aGk=: x", "hi"),
        ('"<<": x', "<<"),  # quoted: not a merge key
    ],
)
def test_key_conversion(text: str, key: str) -> None:
    assert read_yaml(text).value == {key: "x"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("~: x", "unsupported map key of type: <nil>"),
        ("18446744073709551615: x", "unsupported map key of type: uint64"),
        ("0x1ffffffffffffffff: x", r"unsupported map key of type: \*big.Int"),
        ("? [a]\n: x", "invalid map key"),
        ("? {a: b}\n: x", "invalid map key"),
    ],
)
def test_unsupported_keys(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_yaml(text)


def test_duplicate_keys_last_wins_with_positions() -> None:
    doc = read_yaml("a: 1\nb: 2\na: 3\nrules:\n- level: None\n  level: Metadata\n  x: z\n")
    assert doc.value == {"a": 3, "b": 2, "rules": [{"level": "Metadata", "x": "z"}]}
    assert doc.duplicates == (
        DuplicateKey(path=(), key="a", positions=(Position(1, 1), Position(3, 1))),
        DuplicateKey(path=("rules", 0), key="level", positions=(Position(5, 3), Position(6, 3))),
    )
    assert doc.keys[("a",)] == Position(3, 1)
    assert doc.values[("a",)] == Position(3, 4)


def test_duplicates_after_key_conversion_and_stale_positions_dropped() -> None:
    doc = read_yaml("true: [1, 2, 3]\nyes: [4]\n")  # both keys are the bool true
    assert doc.value == {"true": [4]}
    assert doc.duplicates[0].key == "true"
    assert ("true", 0) in doc.keys
    assert ("true", 1) not in doc.keys  # belonged to the overwritten value
    assert ("true", 2) not in doc.values


def test_merge_keys() -> None:
    text = (
        "base: &b {level: Metadata, verbs: [get]}\n"
        "x: &x {a: 1}\n"
        "y: &y {a: 2, c: 3}\n"
        "rule:\n"
        "  <<: *b\n"
        "  level: None\n"
        "seq:\n"
        "  <<: [*x, *y]\n"  # decode.go: earlier maps take precedence
        "tagged:\n"
        "  !!merge <<: {k: v}\n"
    )
    doc = read_yaml(text)
    assert isinstance(doc.value, dict)
    assert doc.value["rule"] == {"level": "None", "verbs": ["get"]}
    assert doc.value["seq"] == {"a": 1, "c": 3}
    assert doc.value["tagged"] == {"k": "v"}
    assert doc.keys[("rule", "verbs")] == Position(1, 28)  # where the merged key is written
    dup = next(d for d in doc.duplicates if d.path == ("rule",))
    assert dup.positions == (Position(1, 11), Position(6, 3))  # go-yaml strict reports it too


def test_merge_requires_a_map() -> None:
    with pytest.raises(InputError, match="map merge requires map"):
        read_yaml("a:\n  <<: [1]\n")


def test_positions_of_nested_keys_and_items() -> None:
    text = (
        "apiVersion: audit.k8s.io/v1\n"
        "kind: Policy\n"
        "rules:\n"
        "  - level: None\n"
        '    users: ["system:kube-proxy"]\n'
        "  - level: Metadata\n"
        "    resources:\n"
        '      - group: ""\n'
        '        resources: ["secrets"]\n'
    )
    doc = read_yaml(text)
    assert doc.keys[("kind",)] == Position(2, 1)
    assert doc.values[("kind",)] == Position(2, 7)
    assert doc.keys[("rules", 0)] == Position(4, 5)
    assert doc.keys[("rules", 1, "level")] == Position(6, 5)
    assert doc.values[("rules", 1, "level")] == Position(6, 12)
    assert doc.keys[("rules", 0, "users", 0)] == Position(5, 13)
    assert doc.keys[("rules", 1, "resources", 0, "resources")] == Position(9, 9)
    assert doc.values[("rules", 1, "resources", 0, "resources", 0)] == Position(9, 21)
    assert doc.values[()] == Position(1, 1)


def test_first_document_only() -> None:
    # yaml.go Unmarshal parses one document; later ones are never read, even broken ones
    assert read_yaml("a: 1\n---\nb: [\n").value == {"a": 1}
    assert read_yaml("---\na: 1\n...\n---\nb: 2\n").value == {"a": 1}


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n", "--- ~\n"])
def test_empty_document_is_none(text: str) -> None:
    assert read_yaml(text).value is None


def test_alias_bomb_fails_fast() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [{', '.join([f'*{prev}'] * 9)}]")
    start = time.monotonic()
    with pytest.raises(InputError, match="excessive aliasing"):
        read_yaml("\n".join(lines))
    assert time.monotonic() - start < 2


def test_alias_containing_itself() -> None:
    with pytest.raises(InputError, match="anchor 'a' value contains itself"):
        read_yaml("a: &a [*a]")


def test_aliases_expand() -> None:
    doc = read_yaml("x: &x {a: [1]}\nz: *x\n")
    assert doc.value == {"x": {"a": [1]}, "z": {"a": [1]}}
    assert doc.values[("z",)] == Position(2, 4)  # the alias itself
    assert doc.keys[("z", "a")] == Position(1, 8)  # inside the anchored node


def test_node_limit() -> None:
    with pytest.raises(InputError, match="too many nodes"):
        read_yaml("[" + "1," * 2000 + "1]", max_nodes=1000)


@pytest.mark.parametrize("text", ["[" * 100_000, "- " * 100_000, "a: " + "{a: " * 100_000])
def test_deep_nesting_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError, match="depth"):
        read_yaml(text)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"a: 1\x00\n", "NUL"),
        (bytes(range(256)) * 4, "not UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8"),
        (b"a: \x07", "U\\+0007"),
        ("a: \ud800", "not UTF-8"),  # lone surrogate in a str
        (b"\xff\xfea\x00:", "not UTF-16"),  # odd number of bytes after a UTF-16 BOM
    ],
)
def test_binary_junk_is_rejected(data: bytes | str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_yaml(data)


def test_nul_position() -> None:
    with pytest.raises(InputError) as info:
        read_yaml(b"a: 1\nb: x\x00y\n")
    assert (info.value.line, info.value.column) == (2, 5)


@pytest.mark.parametrize("as_str", [False, True])
def test_oversized_input_is_refused_before_parsing(
    monkeypatch: pytest.MonkeyPatch, as_str: bool
) -> None:
    def boom(*args: object) -> None:
        raise AssertionError("the parser must not run")

    monkeypatch.setattr(yamlio, "_compose", boom)
    data = b"a" * (17 * 1024 * 1024)
    with pytest.raises(InputError, match="larger than the limit"):
        read_yaml(data.decode() if as_str else data)
    with pytest.raises(InputError, match="larger than the limit"):
        read_yaml("é" * 600, max_bytes=1000)  # 1200 UTF-8 bytes


def test_syntax_error_has_line_and_column() -> None:
    with pytest.raises(InputError, match="mapping values are not allowed") as info:
        read_yaml("kind: Policy\nrules: a: b\n", source="policy.yaml")
    err = info.value
    assert (err.path, err.line, err.column) == ("policy.yaml", 2, 9)
    assert str(err).startswith("policy.yaml:2:9: ")


def test_json_input() -> None:
    text = '{\n\t"apiVersion": "audit.k8s.io/v1",\n\t"rules": [{"level": "Metadata", "n": 1.0}]\n}'
    doc = read_yaml(text)  # tabs are fine in JSON (and in libyaml flow context)
    assert doc.value == {
        "apiVersion": "audit.k8s.io/v1",
        "rules": [{"level": "Metadata", "n": 1.0}],
    }
    assert isinstance(doc.value, dict)
    assert isinstance(doc.value["rules"][0]["n"], float)  # JSON path: json.loads numbers
    if yaml.__with_libyaml__:  # PyYAML's Python scanner refuses tabs: value kept, no positions
        assert doc.keys[("rules", 0, "level")] == Position(3, 13)


def test_json_looking_input_must_be_json() -> None:
    # recognizer.go: a leading '{' selects apimachinery's JSON serializer, not YAML
    with pytest.raises(InputError, match="decodes it as JSON") as info:
        read_yaml("{level: Metadata}")
    assert (info.value.line, info.value.column) == (1, 2)
    with pytest.raises(InputError, match="finite"):
        read_yaml('{"a": NaN}')
    assert read_yaml("[{level: Metadata}]").value == [{"level": "Metadata"}]  # YAML path


def test_byte_order_marks() -> None:
    assert read_yaml(b"\xef\xbb\xbfa: 1\n").value == {"a": 1}
    assert read_yaml("a: yes\n".encode("utf-16-le").join([b"\xff\xfe", b""])).value == {"a": True}
    assert read_yaml("a: 1\n".encode("utf-16")).value == {"a": 1}
    assert read_yaml(b"\xef\xbb\xbf{a: 1}").value == {"a": 1}  # BOM: not sniffed as JSON


@pytest.mark.skipif(not CORPUS.is_dir(), reason="policy corpus not present")
def test_corpus_policies_parse() -> None:
    files = sorted(CORPUS.glob("*.yaml"))
    assert files
    for path in files:
        doc = read_yaml(path.read_bytes(), source=str(path))
        assert isinstance(doc.value, dict), path
        assert doc.value.get("kind") == "Policy", path
