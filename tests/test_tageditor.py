"""The image-tag editor: exact bytes for every file kind, quoting trap and refusal."""

from __future__ import annotations

import pytest

from prodfix.adapters.gitops.images import normalise, parse_reference
from prodfix.adapters.gitops.scalars import plain_is_safe
from prodfix.adapters.gitops.tageditor import (
    EditRefused,
    find_image_refs,
    set_image_tag,
)
from prodfix.errors import Exit, ProdfixError

IMG = "registry.example.com/sre/app"
DIGEST = "sha256:" + "ab" * 32
OLD_DIGEST = "sha256:" + "01" * 32


def edit(text: str, tag: str = "1.5.0", *, image: str = IMG, filename: str = "f.yaml") -> str:
    return set_image_tag(text.encode(), image=image, tag=tag, filename=filename).new.decode()


def refused(text: str, tag: str = "1.5.0", *, filename: str = "f.yaml") -> EditRefused:
    with pytest.raises(EditRefused) as info:
        set_image_tag(text.encode(), image=IMG, tag=tag, filename=filename)
    return info.value


def deployment(containers: str, kind: str = "Deployment") -> str:
    return (
        f"apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: app\nspec:\n  template:\n"
        f"    spec:\n{containers}"
    )


# --- input validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        "registry.example.com/sre/app:1.0",
        "registry.example.com/sre/app@" + DIGEST,
        "Registry/App",
        "",
        "a b",
        "registry.example.com//app",
        "app/",
    ],
)
def test_invalid_image_is_a_usage_error(image: str) -> None:
    with pytest.raises(ProdfixError) as info:
        set_image_tag(b"", image=image, tag="1.0", filename="f.yaml")
    assert info.value.code == Exit.USAGE
    assert info.value.hint


@pytest.mark.parametrize(
    "tag",
    ["", "-1", ".1", "a b", "1:2", "x" * 129, "sha256:abc", "sha256:" + "AB" * 32, "v1/2"],
)
def test_invalid_tag_is_a_usage_error(tag: str) -> None:
    with pytest.raises(ProdfixError) as info:
        set_image_tag(b"", image=IMG, tag=tag, filename="f.yaml")
    assert info.value.code == Exit.USAGE
    assert info.value.hint


def test_valid_inputs() -> None:
    for tag in ("1", "_x", "x" * 128, "v1.2.3-rc.1_build", DIGEST):
        assert set_image_tag(b"a: 1\n", image=IMG, tag=tag, filename="f.yaml").edits == ()
    for image in ("nginx", "localhost:5000/a/b", "host.example.com:5000/x", "a__b/c--d"):
        set_image_tag(b"a: 1\n", image=image, tag="1", filename="f.yaml")


# --- references and normalisation -----------------------------------------------------------


def test_normalise_docker_hub_spellings() -> None:
    forms = ["nginx", "docker.io/nginx", "docker.io/library/nginx", "index.docker.io/library/nginx"]
    assert {normalise(f) for f in forms} == {"docker.io/library/nginx"}
    assert normalise("bitnami/nginx") == normalise("docker.io/bitnami/nginx")
    assert normalise("Registry.Example.COM/a/b") == "registry.example.com/a/b"
    assert normalise("localhost/x") == "localhost/x"
    assert normalise("registry/app") != normalise("registry/app/sub")


def _split(value: str) -> tuple[str, str | None, str | None] | None:
    r = parse_reference(value)
    return None if r is None else (r.repository, r.tag, r.digest)


def test_parse_reference_forms() -> None:
    assert _split("r.io/a:1.0") == ("r.io/a", "1.0", None)
    assert _split(f"r.io/a@{DIGEST}") == ("r.io/a", None, DIGEST)
    assert _split(f"r.io/a:1@{DIGEST}") == ("r.io/a", "1", DIGEST)
    assert _split("host:5000/x") == ("host:5000/x", None, None)
    assert _split("host:5000/x:tag") == ("host:5000/x", "tag", None)
    for bad in ("{{ .Values.image }}", "$(IMAGE)", "a:b:c", "a@sha256:zz", "", "x/"):
        assert _split(bad) is None


@pytest.mark.parametrize(
    "value",
    [
        "457",
        "1.10",
        "7e12345",
        "1e10",
        "0x1f",
        "012345",
        "1_000",
        "1234567",
        "on",
        "yes",
        "Off",
        "y",
        "N",
        "null",
        "Null",
        "~",
        "true",
        "2024-05-27",
        ".5",
        "+1",
    ],
)
def test_plain_unsafe(value: str) -> None:
    assert not plain_is_safe(value)


@pytest.mark.parametrize(
    "value", ["v1.4.2", "1.4.2", "abc1234", "main-abc1234", "1.4.2-45-gabc1234", DIGEST, "r.io/a:1"]
)
def test_plain_safe(value: str) -> None:
    assert plain_is_safe(value)


# --- kustomization ------------------------------------------------------------------------

KUST = """\
# header comment
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
  - name: registry.example.com/sre/app   # the service
    newTag: "1.4.2"
  - name: registry.example.com/sre/app-worker
    newTag: 1.4.2
  - name: registry.example.com/sre/app/sub
    newTag: 1.4.2
"""


def test_kustomize_newtag_keeps_quotes_and_comments() -> None:
    assert edit(KUST, filename="kustomization.yaml") == KUST.replace('"1.4.2"', '"1.5.0"')


def test_kustomize_result_records_the_edit() -> None:
    res = set_image_tag(KUST.encode(), image=IMG, tag="1.5.0", filename="k/kustomization.yaml")
    [e] = res.edits
    assert (e.file, e.line, e.old, e.new, e.kind) == (
        "k/kustomization.yaml",
        6,
        "1.4.2",
        "1.5.0",
        "kustomize-newTag",
    )
    assert e.path == (0, "images", 0, "newTag")
    assert [r.line for r in res.refs] == [6]
    [s] = res.splices
    assert KUST.encode()[s.start : s.end] == b'"1.4.2"' and s.text == b'"1.5.0"'


@pytest.mark.parametrize(
    ("tag", "plain"),
    [
        ("457", '"457"'),
        ("1.10", '"1.10"'),
        ("7e12345", '"7e12345"'),
        ("on", '"on"'),
        ("yes", '"yes"'),
        ("null", '"null"'),
        ("0x1f", '"0x1f"'),
        ("012345", '"012345"'),
        ("v2", "v2"),
        ("1.5.0", "1.5.0"),
    ],
)
def test_kustomize_plain_tag_is_quoted_when_yaml_would_not_read_a_string(
    tag: str, plain: str
) -> None:
    text = "images:\n- name: registry.example.com/sre/app\n  newTag: 1.4.2\n"
    assert edit(text, tag, filename="kustomization.yaml") == text.replace("1.4.2", plain)


def test_kustomize_single_quotes_kept() -> None:
    text = "images:\n- name: registry.example.com/sre/app\n  newTag: '1.4.2'\n"
    assert edit(text, "457", filename="kustomization.yml") == text.replace("'1.4.2'", "'457'")


def test_kustomize_numeric_newtag_in_source() -> None:
    text = "images:\n- name: registry.example.com/sre/app\n  newTag: 457\n"
    res = set_image_tag(text.encode(), image=IMG, tag="458", filename="kustomization.yaml")
    assert res.new.decode() == text.replace("457", '"458"')
    assert res.refs[0].tag == "457"


def test_kustomize_matches_newname_not_name() -> None:
    text = """\
images:
- name: placeholder
  newName: registry.example.com/sre/app
  newTag: v1
- name: registry.example.com/sre/app
  newName: mirror.example.com/sre/app
  newTag: v1
"""
    expected = text.replace("v1", "v2", 1)
    assert edit(text, "v2", filename="kustomization.yaml") == expected


def test_kustomize_detected_by_kind_whatever_the_file_name() -> None:
    text = KUST
    assert edit(text, filename="images.yaml") == KUST.replace('"1.4.2"', '"1.5.0"')
    assert edit(
        "images:\n- name: registry.example.com/sre/app\n  newTag: v1\n", filename="Kustomization"
    ) == ("images:\n- name: registry.example.com/sre/app\n  newTag: 1.5.0\n")
    # Without the name or the kind it is not a kustomization (a values file has no images[]).
    text2 = "images:\n- name: registry.example.com/sre/app\n  newTag: v1\n"
    assert set_image_tag(text2.encode(), image=IMG, tag="2", filename="other.yaml").edits == ()


def test_kustomize_docker_hub_normalisation() -> None:
    text = "images:\n- name: nginx\n  newTag: 1.25.0\n"
    for image in (
        "nginx",
        "docker.io/nginx",
        "docker.io/library/nginx",
        "index.docker.io/library/nginx",
    ):
        assert edit(text, "1.26.0", image=image, filename="kustomization.yaml") == (
            text.replace("1.25.0", "1.26.0")
        )
    assert edit(text, "1.26.0", image="quay.io/nginx", filename="kustomization.yaml") == text


def test_kustomize_digest_input_sets_digest() -> None:
    text = f"images:\n- name: registry.example.com/sre/app\n  digest: {OLD_DIGEST}\n"
    assert edit(text, DIGEST, filename="kustomization.yaml") == text.replace(OLD_DIGEST, DIGEST)


def test_kustomize_tag_replaces_a_digest_pin_in_place() -> None:
    text = f"images:\n- name: registry.example.com/sre/app  # pinned\n  digest: {OLD_DIGEST}  # x\n"
    res = set_image_tag(text.encode(), image=IMG, tag="1.10", filename="kustomization.yaml")
    assert res.new.decode() == text.replace(f"digest: {OLD_DIGEST}", 'newTag: "1.10"')
    assert [(e.old, e.new, e.kind) for e in res.edits] == [(OLD_DIGEST, "1.10", "kustomize-newTag")]


def test_kustomize_digest_replaces_a_tag_in_place() -> None:
    text = 'images:\n- name: registry.example.com/sre/app\n  newTag: "1.4.2"\n'
    assert edit(text, DIGEST, filename="kustomization.yaml") == text.replace(
        'newTag: "1.4.2"', f'digest: "{DIGEST}"'
    )


def test_kustomize_both_newtag_and_digest_is_refused() -> None:
    text = f"images:\n- name: registry.example.com/sre/app\n  newTag: v1\n  digest: {OLD_DIGEST}\n"
    for tag in ("v2", DIGEST):
        err = refused(text, tag, filename="kustomization.yaml")
        assert (err.reason, err.line, err.file) == ("tag-and-digest", 3, "kustomization.yaml")
        assert "kustomization.yaml:3" in err.message and err.hint and err.code == Exit.FAILED


def test_kustomize_tag_suffix_is_refused() -> None:
    text = "images:\n- name: registry.example.com/sre/app\n  tagSuffix: -debug\n"
    assert refused(text, filename="kustomization.yaml").reason == "tag-suffix"


def test_kustomize_missing_newtag_is_inserted_at_the_entry_indentation() -> None:
    text = """\
images:
  - name: other
    newTag: v1
  - name: registry.example.com/sre/app   # no tag yet
  # a comment line
  - name: last
"""
    expected = text.replace("# no tag yet\n", '# no tag yet\n    newTag: "457"\n')
    res = set_image_tag(text.encode(), image=IMG, tag="457", filename="kustomization.yaml")
    assert res.new.decode() == expected
    assert [(e.line, e.old, e.new) for e in res.edits] == [(5, "", "457")]


def test_kustomize_insert_after_newname_crlf() -> None:
    text = "images:\r\n- name: x\r\n  newName: registry.example.com/sre/app\r\n- name: y\r\n"
    assert edit(text, "v9", filename="kustomization.yaml") == text.replace(
        "sre/app\r\n", "sre/app\r\n  newTag: v9\r\n"
    )


def test_kustomize_insert_digest_at_eof_without_final_newline() -> None:
    text = "images:\n- name: registry.example.com/sre/app"
    assert edit(text, DIGEST, filename="kustomization.yaml") == text + f"\n  digest: {DIGEST}"


def test_kustomize_insert_into_flow_entry_is_refused() -> None:
    text = "images:\n- {name: registry.example.com/sre/app}\n"
    assert refused(text, filename="kustomization.yaml").reason == "cannot-insert"


def test_kustomize_flow_entry_with_newtag_is_edited() -> None:
    text = "images: [{name: registry.example.com/sre/app, newTag: v1}, {name: b, newTag: v1}]\n"
    assert edit(text, "457", filename="kustomization.yaml") == text.replace(
        "newTag: v1}, {", 'newTag: "457"}, {'
    )


def test_kustomize_empty_newtag_gets_a_value() -> None:
    text = "images:\n- name: registry.example.com/sre/app\n  newTag:\n- name: b\n"
    assert edit(text, "1.10", filename="kustomization.yaml") == text.replace(
        "newTag:\n", 'newTag: "1.10"\n'
    )


def test_kustomize_already_at_tag_is_a_no_op() -> None:
    data = b"images:\n- name: registry.example.com/sre/app\n  newTag: v2\n"
    res = set_image_tag(data, image=IMG, tag="v2", filename="kustomization.yaml")
    assert res.new is data and res.edits == () and res.splices == ()
    assert [r.current for r in res.refs] == ["v2"]


# --- workloads ------------------------------------------------------------------------------

CONTAINERS = """\
      initContainers:
      - name: migrate
        image: registry.example.com/sre/app:1.4.2
      containers:
        - name: app
          image: "registry.example.com/sre/app:1.4.2"  # main
        - name: worker
          image: registry.example.com/sre/app-worker:1.4.2
"""


@pytest.mark.parametrize(
    "kind", ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Rollout"]
)
def test_workload_containers_and_init_containers(kind: str) -> None:
    text = deployment(CONTAINERS, kind)
    expected = text.replace("sre/app:1.4.2", "sre/app:1.10")
    res = set_image_tag(text.encode(), image=IMG, tag="1.10", filename="d.yaml")
    assert res.new.decode() == expected
    assert [(e.line, e.kind) for e in res.edits] == [(10, "container"), (13, "container")]


def test_cronjob_job_template_path() -> None:
    text = """\
apiVersion: batch/v1
kind: CronJob
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - image: registry.example.com/sre/app:1.4.2
"""
    assert edit(text) == text.replace(":1.4.2", ":1.5.0")


def test_pod_and_ephemeral_containers_and_list() -> None:
    text = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  spec:
    containers: [{name: a, image: registry.example.com/sre/app}]
    ephemeralContainers:
    - {name: debug, image: 'registry.example.com/sre/app:1'}
"""
    expected = text.replace("sre/app}", "sre/app:1.5.0}").replace("app:1'", "app:1.5.0'")
    assert edit(text) == expected


def test_image_reference_forms() -> None:
    forms = {
        "registry.example.com/sre/app:1.4.2": "registry.example.com/sre/app:v2",
        f"registry.example.com/sre/app@{OLD_DIGEST}": "registry.example.com/sre/app:v2",
        f"registry.example.com/sre/app:1@{OLD_DIGEST}": "registry.example.com/sre/app:v2",
        "REGISTRY.example.com/sre/app": "REGISTRY.example.com/sre/app:v2",
    }
    for old, new in forms.items():
        text = deployment(f"      containers:\n      - image: {old}\n")
        assert edit(text, "v2") == text.replace(old, new)


def test_registry_with_port() -> None:
    text = deployment(
        "      containers:\n      - image: host:5000/x:1\n      - image: host:5000/x/y:1\n"
    )
    assert edit(text, "2", image="host:5000/x") == text.replace("x:1", "x:2")
    assert edit(text, DIGEST, image="host:5000/x") == text.replace("x:1", f"x@{DIGEST}")


def test_workload_digest_input() -> None:
    text = deployment("      containers:\n      - image: registry.example.com/sre/app:1.4.2\n")
    assert edit(text, DIGEST) == text.replace(":1.4.2", "@" + DIGEST)


def test_never_prefix_matching() -> None:
    text = deployment(
        "      containers:\n"
        "      - image: registry.example.com/sre/app-worker:1\n"
        "      - image: registry.example.com/sre/app/sub:1\n"
        "      - image: other.example.com/sre/app:1\n"
        "      - image: sre/app:1\n"
    )
    assert edit(text) == text


def test_docker_hub_spellings_match_each_other() -> None:
    text = deployment(
        "      containers:\n      - image: nginx:1\n      - image: docker.io/library/nginx:1\n"
        "      - image: index.docker.io/library/nginx:1\n      - image: docker.io/nginx:1\n"
        "      - image: ghcr.io/nginx:1\n"
    )
    new = edit(text, "2", image="nginx")
    assert new.count(":2\n") == 4 and "ghcr.io/nginx:1\n" in new


MULTIDOC = """\
# Source: chart/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  annotations:
    image: registry.example.com/sre/app:1.4.2
data:
  image: registry.example.com/sre/app:1.4.2
---
# Source: chart/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  annotations:
    note: registry.example.com/sre/app:1.4.2
spec:
  template:
    spec:
      containers:
      # - image: registry.example.com/sre/app:1.4.2
      - name: app
        image: registry.example.com/sre/app:1.4.2
        env:
        - name: CONFIG
          value: |
            image: registry.example.com/sre/app:1.4.2
---
apiVersion: v1
kind: Secret
stringData:
  image: registry.example.com/sre/app:1.4.2
"""


def test_multidoc_only_the_container_image_changes() -> None:
    res = set_image_tag(MULTIDOC.encode(), image=IMG, tag="1.5.0", filename="all.yaml")
    lines = MULTIDOC.splitlines(keepends=True)
    lines[22] = lines[22].replace("1.4.2", "1.5.0")
    assert res.new.decode() == "".join(lines)
    assert [e.line for e in res.edits] == [23]


def test_kinds_without_pod_templates_are_ignored() -> None:
    text = (
        "apiVersion: v1\nkind: Service\nspec:\n  template:\n    spec:\n      containers:\n"
        "      - image: registry.example.com/sre/app:1\n"
    )
    assert edit(text) == text


def test_folded_image_is_refused() -> None:
    text = deployment(
        "      containers:\n      - image: >-\n          registry.example.com/sre/app:1\n"
    )
    err = refused(text)
    assert (err.reason, err.line) == ("block-scalar", 9)
    # ... but it is still reported as a reference
    assert find_image_refs(text.encode(), "f.yaml")[0].tag == "1"


def test_multiline_plain_image_is_replaced_whole() -> None:
    text = deployment(
        "      containers:\n      - image:\n          registry.example.com/sre/app:1\n"
    )
    assert edit(text) == text.replace("app:1\n", "app:1.5.0\n")


def test_explicit_str_tag_is_kept() -> None:
    text = deployment("      containers:\n      - image: !!str registry.example.com/sre/app:1\n")
    assert edit(text) == text.replace("app:1", "app:1.5.0")


# --- anchors and aliases --------------------------------------------------------------------


def test_anchored_image_used_elsewhere_is_refused() -> None:
    text = deployment(
        "      initContainers:\n      - image: &img registry.example.com/sre/app:1\n"
        "      containers:\n      - image: *img\n"
    )
    assert refused(text).reason == "anchor"


def test_aliased_container_list_is_refused() -> None:
    text = "x-containers: &c\n- image: registry.example.com/sre/app:1\n" + deployment(
        "      containers: *c\n"
    )
    assert refused(text).reason == "anchor"


def test_merge_key_sharing_is_refused() -> None:
    text = """\
defaults: &defaults
  repository: registry.example.com/sre/app
  tag: v1
app:
  image:
    <<: *defaults
"""
    assert refused(text, filename="values.yaml").reason == "anchor"


def test_alias_bomb_is_walked_in_linear_time() -> None:
    lines = ["a0: &a0 {image: {repository: registry.example.com/sre/app, tag: v1}}"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 40)]
    data = ("\n".join(lines) + "\n").encode()
    assert len(find_image_refs(data, "v.yaml")) == 1  # one place in the file, 2**39 paths
    assert refused(data.decode()).reason == "anchor"


def test_absurd_nesting_is_refused_not_a_crash() -> None:
    # 700 levels is past what the parser's recursion reaches (it stops near 500, whatever the
    # depth: 5,000 levels cost the same 1.9 s as 1,500, 700 cost 0.3 s).
    text = "image: registry.example.com/sre/app:1\nx: " + "[" * 700 + "]" * 700 + "\n"
    e = refused(text)
    assert (e.reason, e.detail) == ("unparseable", "YAML nesting too deep")


def test_anchor_elsewhere_in_the_file_is_fine() -> None:
    text = "common: &c {a: 1}\nuse: *c\nimage:\n  repository: registry.example.com/sre/app\n  tag: v1\n"
    assert edit(text, "v2", filename="values.yaml") == text.replace("tag: v1", "tag: v2")


# --- Helm values ----------------------------------------------------------------------------

VALUES = """\
# Default values for app.
replicaCount: 1

image:
  repository: registry.example.com/sre/app
  pullPolicy: IfNotPresent
  # Overrides the image tag whose default is the chart appVersion.
  tag: "v1.4.2"

worker:
  image:
    repository: registry.example.com/sre/app-worker
    tag: v1.4.2          # aligned comment
"""


def test_helm_values_tag() -> None:
    res = set_image_tag(VALUES.encode(), image=IMG, tag="v1.10.0", filename="values.yaml")
    assert res.new.decode() == VALUES.replace('"v1.4.2"', '"v1.10.0"')
    assert [(e.line, e.old, e.new, e.kind) for e in res.edits] == [
        (8, "v1.4.2", "v1.10.0", "helm-tag")
    ]


def test_helm_nested_registry_and_numeric_tag() -> None:
    text = """\
app:
  image:
    registry: registry.example.com
    repository: sre/app
    tag: 457
  workerImage: {registry: registry.example.com, repository: sre/app, version: 457}
"""
    expected = text.replace("tag: 457", 'tag: "458"').replace("version: 457", 'version: "458"')
    assert edit(text, "458", filename="my-values.yaml") == expected


def test_helm_inline_image_string() -> None:
    text = "sidecar:\n  image: registry.example.com/sre/app:v1\n  mainImage: 'registry.example.com/sre/app:v1'\n"
    assert edit(text, "v2") == text.replace(":v1", ":v2")


@pytest.mark.parametrize(
    ("old", "new"), [('""', '"on"'), ("''", "'on'"), ("~", '"on"'), ("null", '"on"'), ("", ' "on"')]
)
def test_helm_empty_tag(old: str, new: str) -> None:
    text = f"image:\n  repository: registry.example.com/sre/app\n  tag:{' ' if old else ''}{old}\n  pullPolicy: Always\n"
    expected = text.replace(f"tag:{' ' if old else ''}{old}\n", f"tag:{' ' if old else ''}{new}\n")
    assert edit(text, "on") == expected


def test_helm_empty_tag_followed_by_comment() -> None:
    text = "image:\n  repository: registry.example.com/sre/app\n  tag:   # set by CI\n"
    assert edit(text, "1.10") == text.replace("tag:   #", 'tag: "1.10"   #')


def test_helm_digest() -> None:
    text = "image:\n  repository: registry.example.com/sre/app\n  tag: v1\n  digest: ''\n"
    assert edit(text, "v2") == text.replace("v1", "v2")
    assert edit(text, DIGEST) == text.replace("''", f"'{DIGEST}'")
    pinned = text.replace("''", OLD_DIGEST)
    assert refused(pinned, "v2").reason == "digest-pinned"
    assert edit(pinned, DIGEST) == text.replace("''", DIGEST)
    no_digest = "image:\n  repository: registry.example.com/sre/app\n  tag: v1\n"
    assert refused(no_digest, DIGEST).reason == "no-digest-field"


def test_helm_mapping_without_tag_is_refused() -> None:
    text = "image:\n  repository: registry.example.com/sre/app\n  pullPolicy: Always\n"
    assert refused(text).reason == "no-tag-field"


def test_unused_anchor_and_tag_properties_are_kept() -> None:
    text = "image:\n  repository: registry.example.com/sre/app\n  tag: &t !!str v1  # c\n"
    assert edit(text, "457") == text.replace("v1", '"457"')
    text = deployment("      containers:\n      - image: &img registry.example.com/sre/app:1\n")
    assert edit(text, "2") == text.replace("app:1", "app:2")


def test_anchored_empty_tag_is_refused() -> None:
    text = "image:\n  repository: registry.example.com/sre/app\n  tag: &t\nother: *t\n"
    assert refused(text).reason == "anchor"
    text = "image:\n  repository: registry.example.com/sre/app\n  tag: &t\n"
    assert refused(text).reason == "cannot-insert"


def test_non_string_explicit_tag_is_refused() -> None:
    text = "image:\n  repository: registry.example.com/sre/app\n  tag: !!int 5\n"
    assert refused(text).reason == "explicit-tag"


def test_template_text_inside_strings_is_not_a_template() -> None:
    rules = (
        "apiVersion: v1\nkind: ConfigMap\ndata:\n  rules: |\n    summary: {{ $labels.x }}\n"
        '  note: "{{ .Values.x }}"\n---\n'
    )
    text = rules + deployment("      containers:\n      - image: registry.example.com/sre/app:1\n")
    assert edit(text) == text.replace("app:1\n", "app:1.5.0\n")
    plain = text.replace('note: "{{ .Values.x }}"', "note: x {{ .Values.x }}")
    assert (refused(plain).reason, refused(plain).line) == ("templated", 6)


def test_helm_anchored_tag_is_refused() -> None:
    text = "image:\n  repository: registry.example.com/sre/app\n  tag: &t v1\nother: *t\n"
    assert refused(text).reason == "anchor"


# --- encodings, line ends, layout -----------------------------------------------------------


def test_crlf_bom_and_no_final_newline() -> None:
    text = "\ufeffimage:\r\n  repository: registry.example.com/sre/app\r\n  tag: v1"
    data = text.encode("utf-8")
    res = set_image_tag(data, image=IMG, tag="v2", filename="values.yaml")
    assert res.new == data.replace(b"v1", b"v2")
    [s] = res.splices
    assert data[s.start : s.end] == b"v1"


def test_non_ascii_before_the_value_byte_offsets() -> None:
    text = "# Zürich — ünïcode\nimage:\n  repository: registry.example.com/sre/app\n  tag: v1\n"
    data = text.encode()
    res = set_image_tag(data, image=IMG, tag="v2", filename="values.yaml")
    [s] = res.splices
    assert data[s.start : s.end] == b"v1"
    assert res.new == data[: s.start] + s.text + data[s.end :]


def test_not_utf8_is_refused() -> None:
    data = "image: registry.example.com/sre/app:1\n".encode("utf-16")
    with pytest.raises(EditRefused) as info:
        set_image_tag(data, image=IMG, tag="2", filename="x.yaml")
    assert info.value.reason == "not-utf8"
    with pytest.raises(EditRefused) as info:
        find_image_refs(data, "x.yaml")
    assert info.value.reason == "not-utf8"
    latin1 = "# café\nimage: registry.example.com/sre/app:1\n".encode("latin-1")
    with pytest.raises(EditRefused) as info:
        set_image_tag(latin1, image=IMG, tag="2", filename="x.yaml")
    assert (info.value.reason, info.value.line) == ("not-utf8", 1)


def test_unparseable_is_refused_with_line() -> None:
    text = "image:\n  repository: registry.example.com/sre/app\n  tag: [v1\n"
    err = refused(text)
    assert err.reason == "unparseable" and err.line >= 3 and "f.yaml" in err.message


def test_unparseable_file_not_mentioning_the_image_is_skipped() -> None:
    res = set_image_tag(b"a: [\n", image=IMG, tag="1", filename="x.yaml")
    assert res.edits == () and res.refs == ()


def test_helm_template_is_refused() -> None:
    text = deployment(
        "      containers:\n      - name: {{ .Chart.Name }}\n"
        "        image: registry.example.com/sre/app:1\n"
    )
    err = refused(text)
    assert (err.reason, err.line) == ("templated", 9)
    text2 = (
        "{{- if .Values.x }}\nimage: registry.example.com/sre/app:{{ .Values.tag }}\n{{- end }}\n"
    )
    assert refused(text2).reason in ("templated",)


def test_duplicate_keys_are_refused() -> None:
    text = deployment(
        "      containers:\n      - image: registry.example.com/sre/app:1\n"
        "        name: a\n        name: b\n"
    )
    err = refused(text)
    assert (err.reason, err.line) == ("duplicate-key", 11)


def test_yaml_directive_and_document_end_marker() -> None:
    text = (
        "# leading\n%YAML 1.1\n---\n"
        + deployment("      containers:\n      - image: registry.example.com/sre/app:1\n")
        + "...\n---\n"
        + deployment("      containers:\n      - image: registry.example.com/sre/app:1\n")
    )
    assert edit(text, "yes") == text.replace("app:1\n", "app:yes\n")


def test_only_edited_documents_of_a_stream_and_the_rest_untouched() -> None:
    doc = deployment("      containers:\n      - image: registry.example.com/sre/app:1  # c\n")
    other = "apiVersion: v1\nkind: ConfigMap\ndata: {a: '1'}\n"
    text = "---\n".join([other, doc, other, doc, other])
    assert edit(text) == text.replace("app:1  #", "app:1.5.0  #")


def test_find_image_refs_lists_every_reference() -> None:
    refs = find_image_refs(MULTIDOC.encode(), "all.yaml")
    assert [(r.line, r.kind, r.repository, r.current) for r in refs] == [
        (23, "container", IMG, "1.4.2"),
    ]
    refs = find_image_refs(VALUES.encode(), "values.yaml")
    assert [(r.line, r.kind, r.repository, r.current) for r in refs] == [
        (8, "helm", IMG, "v1.4.2"),
        (13, "helm", "registry.example.com/sre/app-worker", "v1.4.2"),
    ]
    assert find_image_refs(b"a: b\n", "x.yaml") == []
    kust = b"images:\n- name: a\n  newTag: ~\n- name: b\n  newTag: 457\n- name: c\n  newTag: 1@" + (
        OLD_DIGEST.encode() + b"\n"
    )
    assert [r.current for r in find_image_refs(kust, "kustomization.yaml")] == [
        "",
        "457",
        f"1@{OLD_DIGEST}",
    ]
