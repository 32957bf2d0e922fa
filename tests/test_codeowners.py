"""CODEOWNERS matching as GitHub documents it ("About code owners": the example file, the
syntax exceptions, the three locations)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodfix.adapters.git import Repo
from prodfix.workflow import codeowners
from prodfix.workflow.codeowners import owners, owners_of, parse, translate
from tests.gitfix import Sandbox

# GitHub's own example file, trimmed to the rules it explains.
GITHUB_EXAMPLE = """\
# This is a comment.
*       @global-owner1 @global-owner2
*.js    @js-owner #This is an inline comment.
*.go docs@example.com
*.txt @octo-org/octocats
/build/logs/ @doctocat
docs/* docs@example.com
apps/ @octocat
/docs/ @doctocat
/scripts/ @doctocat @octocat
**/logs @octocat
/apps/ @octocat
/apps/github
"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("README.md", ("@global-owner1", "@global-owner2")),  # `*`: everything
        ("src/app.js", ("@js-owner",)),  # later and more specific: it wins
        ("main.go", ("docs@example.com",)),
        ("notes/todo.txt", ("@octo-org/octocats",)),
        ("build/logs/today.log", ("@octocat",)),  # `/build/logs/`, then `**/logs` (later)
        ("docs/getting-started.md", ("@doctocat",)),  # `docs/*`, then `/docs/` (later)
        ("scripts/deploy.sh", ("@doctocat", "@octocat")),
        ("deeply/nested/logs/x.log", ("@octocat",)),  # `**/logs` at any depth
        ("apps/web/index.html", ("@octocat",)),
        ("apps/github/hub.py", ()),  # the last match lists no owner: unowned
    ],
)
def test_github_example_last_match_wins(path: str, expected: tuple[str, ...]) -> None:
    assert owners_of(parse(GITHUB_EXAMPLE), path) == expected


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("*", ["a", "x/y/z.py"], []),
        ("*.js", ["a.js", "deep/er/b.js"], ["a.jsx", "js/a.ts"]),
        ("apps/", ["apps/a", "x/apps/b/c"], ["apps", "myapps/a", "apps.txt"]),
        ("/apps/", ["apps/a/b"], ["x/apps/a"]),
        ("docs/*", ["docs/a.md"], ["docs/deep/b.md", "x/docs/a.md"]),  # middle slash anchors
        ("/*", ["top.txt"], ["dir/inner.txt"]),
        ("/build/logs", ["build/logs", "build/logs/x/y"], ["build/logsx", "a/build/logs/x"]),
        ("**/logs", ["logs/a", "a/b/logs/c", "logs"], ["blogs/a", "logsx"]),
        ("a/**/b", ["a/b", "a/x/b", "a/x/y/b/c"], ["a/xb", "x/a/b"]),
        ("src/**", ["src/a", "src/a/b"], ["src", "x/src/a"]),
        ("fi?e.txt", ["file.txt", "d/fine.txt"], ["fie.txt", "f/e.txt"]),
        ("/a.b", ["a.b"], ["aXb"]),  # a dot is literal
        ("x\\ y/", ["x y/z"], ["x/z"]),  # an escaped space
    ],
)
def test_pattern_semantics(pattern: str, matches: list[str], misses: list[str]) -> None:
    rule = parse(f"{pattern} @o")[0]
    for path in matches:
        assert rule.regex.fullmatch(path), (pattern, path, translate(pattern))
    for path in misses:
        assert not rule.regex.fullmatch(path), (pattern, path, translate(pattern))


def test_unsupported_syntax_is_skipped_not_guessed() -> None:
    """GitHub: `!` negation and `[ ]` ranges do not work in CODEOWNERS."""
    rules = parse("* @all\n!secret.txt @nobody\n[ab].txt @range\n")
    assert [r.pattern for r in rules] == ["*"]
    assert owners_of(rules, "secret.txt") == ("@all",)


def test_owners_of_many_paths_once_each_in_order() -> None:
    rules = parse("* @core\n/payments/ @team-payments @core\n*.md docs@example.com\n")
    paths = ["payments/api.py", "README.md", "lib/x.py", "payments/b.py"]
    assert owners(rules, paths) == ["@team-payments", "@core", "docs@example.com"]


def _repo_with(sb: Sandbox, files: dict[str, str]) -> tuple[Repo, str]:
    sb.init_origin()
    clone = sb.clone()
    sha = sb.commit(clone, "files", files)
    return Repo(clone), sha


@pytest.mark.parametrize(
    ("files", "where"),
    [
        ({".github/CODEOWNERS": "* @a\n", "CODEOWNERS": "* @b\n", "docs/CODEOWNERS": "* @c\n"}, ".github/CODEOWNERS"),
        ({"CODEOWNERS": "* @b\n", "docs/CODEOWNERS": "* @c\n"}, "CODEOWNERS"),
        ({"docs/CODEOWNERS": "* @c\n"}, "docs/CODEOWNERS"),
        ({"src/CODEOWNERS": "* @d\n"}, None),  # not one of GitHub's locations
    ],
)  # fmt: skip
def test_read_takes_the_first_of_githubs_locations(
    sandbox: Sandbox, files: dict[str, str], where: str | None
) -> None:
    repo, sha = _repo_with(sandbox, {"app.py": "x\n", **files})
    found, rules = codeowners.read(repo, sha)
    assert found == where
    expected = {".github/CODEOWNERS": "@a", "CODEOWNERS": "@b", "docs/CODEOWNERS": "@c"}
    assert owners_of(rules, "app.py") == ((expected[where],) if where else ())


def test_read_at_a_revision_not_the_work_tree(sandbox: Sandbox, tmp_path: Path) -> None:
    repo, sha = _repo_with(sandbox, {"CODEOWNERS": "* @committed\n"})
    (repo.path / "CODEOWNERS").write_text("* @edited-only\n")
    assert owners_of(codeowners.read(repo, sha)[1], "x") == ("@committed",)
