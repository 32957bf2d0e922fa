"""config.xml edits on Jenkins Job Builder output (tests/fixtures/jenkins, tools/regen_jenkins_fixtures.sh)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from prodfix.adapters.build import jenkins_xml as jx
from prodfix.errors import ProdfixError

FIXTURES = Path(__file__).parent / "fixtures" / "jenkins"
JJB = b"&lt;!-- Managed by Jenkins Job Builder --&gt;"


def fixture(name: str, *, managed: bool = True) -> bytes:
    data = (FIXTURES / f"{name}.xml").read_bytes()
    # A job created in the Jenkins UI has no JJB marker; JJB always writes one (constants.py).
    return data if managed else data.replace(JJB, b"")


Row = tuple[str, tuple[tuple[str, str], ...], str, str]


def flat(data: bytes) -> list[Row]:
    """Every element as (path, attributes, text, tail), in document order. Whitespace-only text
    is indentation, which XStream ignores, so it compares as ""."""
    out: list[Row] = []

    def walk(el: ET.Element, path: str) -> None:
        p = f"{path}/{el.tag}"
        text, tail = (el.text or "").strip() and el.text, (el.tail or "").strip() and el.tail
        out.append((p, tuple(sorted(el.attrib.items())), text or "", tail or ""))
        for c in el:
            walk(c, p)

    walk(ET.fromstring(data), "")
    return out


def diff(before: bytes, after: bytes) -> tuple[list[Row], list[Row]]:
    """Elements only in `before`, elements only in `after` (multiset difference, order-aware)."""
    a, b = flat(before), flat(after)
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    j = 0
    while j < min(len(a), len(b)) - i and a[-1 - j] == b[-1 - j]:
        j += 1
    return list(a[i : len(a) - j]), list(b[i : len(b) - j])


BRANCH = "fix/a.b+c"


def test_pipeline_branch_spec_add_then_remove_round_trips_bytes() -> None:
    before = fixture("app-pipeline", managed=False)
    edit = jx.add_branch(before, BRANCH)
    assert (edit.shape, edit.entry, edit.changed, edit.warnings) == (
        jx.Shape.BRANCH_SPEC,
        "refs/heads/fix/a.b+c",
        True,
        (),
    )
    gone, new = diff(before, edit.xml)
    spec = "/flow-definition/definition/scm/branches/hudson.plugins.git.BranchSpec"
    # The previous last BranchSpec keeps its tail; one BranchSpec with one <name> is added.
    assert gone == []
    assert new == [(spec, (), "", ""), (spec + "/name", (), "refs/heads/fix/a.b+c", "")]
    assert jx.branches(edit.xml) == (
        jx.Shape.BRANCH_SPEC,
        ["origin/delivery", "refs/heads/fix/a.b+c"],
    )
    # Indentation copied from the sibling: the new element reads like JJB's own.
    assert (
        b"        <hudson.plugins.git.BranchSpec>\n"
        b"          <name>refs/heads/fix/a.b+c</name>\n"
        b"        </hudson.plugins.git.BranchSpec>\n      </branches>"
    ) in edit.xml
    undo = jx.remove_branch(edit.xml, BRANCH)
    assert undo.changed and undo.xml == before


def test_freestyle_branch_already_present_in_another_spelling() -> None:
    before = fixture("app-freestyle")
    edit = jx.add_branch(before, "fix/already-there")
    assert not edit.changed and edit.xml == before
    assert "already listed as refs/heads/fix/already-there" in edit.warnings
    bare = before.replace(b"refs/heads/fix/already-there", b"origin/fix/already-there")
    assert jx.add_branch(bare, "fix/already-there").changed is False


def test_freestyle_is_managed_by_jjb_and_warns() -> None:
    edit = jx.add_branch(fixture("app-freestyle"), "fix/npe")
    assert edit.changed
    assert len(edit.warnings) == 1 and "Jenkins Job Builder" in edit.warnings[0]
    assert "overwrites" in edit.warnings[0]


def test_wildcard_add_remove_keeps_pr_and_every_pattern() -> None:
    before = fixture("app-mb-wild", managed=False)
    edit = jx.add_branch(before, BRANCH)
    assert (edit.shape, edit.entry, edit.changed) == (jx.Shape.WILDCARD, " fix/a.b+c", True)
    assert jx.branches(edit.xml) == (jx.Shape.WILDCARD, ["delivery", "master", "PR-*", BRANCH])
    gone, new = diff(before, edit.xml)
    path = (
        "/org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject/sources/data/"
        "jenkins.branch.BranchSource/source/traits/jenkins.scm.impl.trait.WildcardSCMHeadFilterTrait"
        "/includes"
    )
    assert [e[:3] for e in gone] == [(path, (), "delivery master PR-*")]
    assert [e[:3] for e in new] == [(path, (), "delivery master PR-* fix/a.b+c")]
    assert jx.remove_branch(edit.xml, BRANCH).xml == before


def test_wildcard_branch_already_matched_by_pattern() -> None:
    before = fixture("app-mb-gh")  # includes "delivery* master PR-*"
    edit = jx.add_branch(before, "delivery-2026/hotfix")
    assert not edit.changed
    assert "already matched by include pattern 'delivery*'" in edit.warnings


def test_github_branch_source_double_underscore_elements() -> None:
    before = fixture("app-mb-gh", managed=False)
    assert b"github__branch__source.BranchDiscoveryTrait" in before
    edit = jx.add_branch(before, "fix/x")
    assert jx.branches(edit.xml)[1] == ["delivery*", "master", "PR-*", "fix/x"]
    gone, new = diff(before, edit.xml)
    assert len(gone) == len(new) == 1 and new[0][2] == "delivery* master PR-* fix/x"
    assert jx.remove_branch(edit.xml, "fix/x").xml == before


def test_regex_add_remove_with_metacharacters() -> None:
    before = fixture("app-mb-regex", managed=False)
    edit = jx.add_branch(before, BRANCH)
    assert edit.entry == "|\\Qfix/a.b+c\\E"
    assert jx.branches(edit.xml) == (jx.Shape.REGEX, ["(delivery|master|PR-.*)|\\Qfix/a.b+c\\E"])
    gone, new = diff(before, edit.xml)
    assert [e[2] for e in gone] == ["(delivery|master|PR-.*)"]
    assert [e[2] for e in new] == ["(delivery|master|PR-.*)|\\Qfix/a.b+c\\E"]
    # The quoted alternative matches the literal name only, like Java's Pattern.quote.
    pattern = jx._python_regex(jx.branches(edit.xml)[1][0])
    assert pattern is not None
    assert pattern.fullmatch("fix/a.b+c") and not pattern.fullmatch("fix/aXbbc")
    assert jx.remove_branch(edit.xml, BRANCH).xml == before


def test_regex_already_matching_branch_is_not_added() -> None:
    edit = jx.add_branch(fixture("app-mb-regex"), "PR-12")
    assert not edit.changed and "already matched by the regex" in edit.warnings[-1]


@pytest.mark.parametrize("name", ["app-pipeline", "app-mb-wild", "app-mb-regex"])
def test_undo_removes_only_ours_after_someone_else_added_another(name: str) -> None:
    before = fixture(name)
    ours = jx.add_branch(before, "fix/ours")
    theirs = jx.add_branch(ours.xml, "fix/theirs")
    assert theirs.changed
    undone = jx.remove_branch(theirs.xml, "fix/ours")
    assert undone.changed
    assert undone.xml == jx.add_branch(before, "fix/theirs").xml
    # Removing again is a no-op, not an error (undo may be replayed).
    again = jx.remove_branch(undone.xml, "fix/ours")
    assert not again.changed and again.xml == undone.xml


def test_remove_never_touches_a_foreign_spelling() -> None:
    before = fixture("app-freestyle")  # lists refs/heads/fix/already-there, not ours
    tweaked = before.replace(b"refs/heads/fix/already-there", b"origin/fix/mine")
    assert jx.remove_branch(tweaked, "fix/mine").changed is False


def test_remove_refuses_to_empty_the_list() -> None:
    only = jx.add_branch(fixture("app-pipeline"), "fix/x").xml
    only = only.replace(
        b"<hudson.plugins.git.BranchSpec>\n          <name>origin/delivery</name>\n"
        b"        </hudson.plugins.git.BranchSpec>",
        b"",
    )
    with pytest.raises(ProdfixError, match="build every branch") as exc:
        jx.remove_branch(only, "fix/x")
    assert exc.value.hint


def test_xml_1_1_declaration_and_self_closing_includes() -> None:
    data = fixture("app-mb-wild", managed=False).replace(
        b'<?xml version="1.0" encoding="utf-8"?>', b"<?xml version='1.1' encoding='UTF-8'?>"
    )
    blank = data.replace(b"<includes>delivery master PR-*</includes>", b"<includes/>")
    edit = jx.add_branch(blank, "fix/x")
    assert not edit.changed and "blank includes: all branches match" in edit.warnings
    assert jx.add_branch(data, "fix/x").xml.startswith(b"<?xml version='1.1'")


def test_unknown_shape_and_several_filters_are_refused() -> None:
    with pytest.raises(ProdfixError, match="unknown job shape <matrix-project>") as exc:
        jx.add_branch(b"<matrix-project><scm class='hudson.scm.NullSCM'/></matrix-project>", "f")
    assert "by hand" in exc.value.hint
    two = fixture("app-mb-wild").replace(
        b"<jenkins.plugins.git.traits.BranchDiscoveryTrait/>",
        b"<jenkins.scm.impl.trait.RegexSCMHeadFilterTrait><regex>.*</regex>"
        b"</jenkins.scm.impl.trait.RegexSCMHeadFilterTrait>",
    )
    with pytest.raises(ProdfixError, match="2 branch filters"):
        jx.add_branch(two, "fix/x")
    with pytest.raises(ProdfixError, match="not well-formed"):
        jx.add_branch(b"<project><scm>", "fix/x")


def test_multibranch_without_filter_needs_no_edit() -> None:
    data = fixture("app-mb-wild").replace(
        b'<jenkins.scm.impl.trait.WildcardSCMHeadFilterTrait plugin="scm-api">\n'
        b"              <includes>delivery master PR-*</includes>\n"
        b"              <excludes/>\n"
        b"            </jenkins.scm.impl.trait.WildcardSCMHeadFilterTrait>",
        b"",
    )
    edit = jx.add_branch(data, "fix/x")
    assert (edit.shape, edit.changed) == (jx.Shape.UNFILTERED, False)


def test_job_dsl_marker_warns() -> None:
    data = fixture("app-pipeline", managed=False).replace(
        b"<properties>",
        b"<properties><javaposse.jobdsl.plugin.SeedJobProperty><seedJobName>seed"
        b"</seedJobName></javaposse.jobdsl.plugin.SeedJobProperty>",
    )
    warnings = jx.add_branch(data, "fix/x").warnings
    assert len(warnings) == 1 and "Job DSL seed job" in warnings[0]


def test_branch_with_xml_special_characters_is_escaped() -> None:
    edit = jx.add_branch(fixture("app-pipeline"), "fix/a&b")
    assert b"<name>refs/heads/fix/a&amp;b</name>" in edit.xml
    assert jx.branches(edit.xml)[1][-1] == "refs/heads/fix/a&b"
    assert jx.remove_branch(edit.xml, "fix/a&b").xml == fixture("app-pipeline")
