"""The fake GitHub's REST behaviour, one function per operationId.

Response objects start as `skeleton()`s of the operation's own response schema (so every field
GitHub promises is there with a type-correct value) and are overlaid with the fake's state.
Behaviour follows GitHub's REST documentation: `head` without `owner:` is silently ignored,
`mergeable` is null while "computing", merge answers 409 on a stale `sha` and 405 when blocked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.github import FakeGitHub, FakePr, FakeRepo

from tests.fakes.github import DOCS, Review

NOW = "2026-11-26T10:00:00Z"
Answer = tuple[int, dict[str, str], Any]


def _error(status: int, message: str, **extra: Any) -> Answer:
    return status, {}, {"message": message, "documentation_url": DOCS, **extra}


def _overlay(target: dict[str, Any], /, **values: Any) -> dict[str, Any]:
    for k, v in values.items():
        if isinstance(v, dict) and isinstance(target.get(k), dict):
            _overlay(target[k], **v)
        else:
            target[k] = v
    return target


def user(fake: FakeGitHub, login: str) -> dict[str, Any]:
    u = fake.spec.skeleton({"$ref": "#/components/schemas/simple-user"})
    return _overlay(
        u, login=login, id=sum(map(ord, login)), type="User", html_url=f"{fake.origin}/{login}"
    )


def repository(fake: FakeGitHub, repo: FakeRepo, schema: str = "repository") -> dict[str, Any]:
    r = fake.spec.skeleton({"$ref": f"#/components/schemas/{schema}"})
    return _overlay(
        r,
        name=repo.name,
        full_name=f"{repo.owner}/{repo.name}",
        owner=user(fake, repo.owner),
        default_branch=repo.default_branch,
        html_url=f"{fake.origin}/{repo.owner}/{repo.name}",
        url=f"{fake.api_url}/repos/{repo.owner}/{repo.name}",
    )


def mergeable_state(repo: FakeRepo, pr: FakePr) -> tuple[bool | None, str]:
    if pr.mergeable_pending:
        return None, "unknown"
    if pr.conflict:
        return False, "dirty"
    if pr.draft:
        return True, "draft"
    return True, "blocked" if repo.merge_refusal(pr) else "clean"


def pull(
    fake: FakeGitHub, repo: FakeRepo, pr: FakePr, schema: str = "pull-request"
) -> dict[str, Any]:
    p: dict[str, Any] = fake.spec.skeleton({"$ref": f"#/components/schemas/{schema}"})
    web = f"{fake.origin}/{repo.owner}/{repo.name}/pull/{pr.number}"
    ref = {"repo": repository(fake, repo), "user": user(fake, repo.owner)}
    _overlay(
        p,
        number=pr.number,
        id=pr.number + 5000,
        title=pr.title,
        body=pr.body,
        state=pr.state,
        draft=pr.draft,
        user=user(fake, pr.author),
        html_url=web,
        url=f"{fake.api_url}/repos/{repo.owner}/{repo.name}/pulls/{pr.number}",
        head={"ref": pr.head, "sha": pr.head_sha, "label": f"{repo.owner}:{pr.head}", **ref},
        base={
            "ref": pr.base,
            "sha": repo.branches[pr.base],
            "label": f"{repo.owner}:{pr.base}",
            **ref,
        },
        merged_at=pr.merged_at,
        closed_at=pr.closed_at,
        created_at=NOW,
        updated_at=pr.updated_at or NOW,
        # Like GitHub: an open PR's merge_commit_sha is a test merge, not on the base branch.
        merge_commit_sha=pr.merge_commit_sha or fake.new_sha("test-merge", pr.number),
    )
    if schema == "pull-request":
        mergeable, state = mergeable_state(repo, pr)
        _overlay(
            p,
            merged=pr.merged_at is not None,
            mergeable=mergeable,
            mergeable_state=state,
            merged_by=user(fake, pr.merged_by) if pr.merged_by else None,
        )
    return p


def route(
    fake: FakeGitHub,
    operation_id: str,
    params: dict[str, str],
    query: dict[str, list[str]],
    body: Any,
    login: str,
) -> Answer:
    if operation_id == "users/get-authenticated":
        u = fake.spec.skeleton(fake.spec.response_schema(operation_id, 200))
        headers = {} if fake.scopes is None else {"X-OAuth-Scopes": fake.scopes}
        return 200, headers, _overlay(u, login=login, type="User")
    repo = fake.repos.get((params["owner"], params["repo"]))
    if repo is None:
        return _error(404, "Not Found")
    number = int(params.get("pull_number") or params.get("issue_number") or 0)
    pr = repo.prs.get(number)
    if number and pr is None:
        return _error(404, "Not Found")
    if operation_id == "checks/update":
        from tests.fakes.github_app import update_run

        return update_run(fake, repo, pr, query, body or {}, login, int(params["check_run_id"]))
    if operation_id == "checks/list-for-ref":
        from tests.fakes.github_app import list_runs

        return list_runs(fake, repo, params["ref"], query)
    handler = _ROUTES[operation_id]
    return handler(fake, repo, pr, query, body or {}, login)


def _repo_get(fake: FakeGitHub, repo: FakeRepo, pr: Any, q: Any, b: Any, login: str) -> Answer:
    r = repository(fake, repo, "full-repository")
    return 200, {}, _overlay(r, allow_merge_commit=repo.allow_merge_commit)


def _list(
    fake: FakeGitHub, repo: FakeRepo, pr: Any, q: dict[str, list[str]], b: Any, login: str
) -> Answer:
    state = q.get("state", ["open"])[-1]
    items = [p for p in repo.prs.values() if state == "all" or p.state == state]
    head = q.get("head", [""])[-1]
    if ":" in head:  # a bare branch is silently ignored by GitHub (pulls: list, `head`)
        owner, branch = head.split(":", 1)
        items = [p for p in items if owner == repo.owner and p.head == branch]
    if "base" in q:
        items = [p for p in items if p.base == q["base"][-1]]
    # GitHub's defaults: sort=created; direction desc for created, asc otherwise.
    sort = q.get("sort", ["created"])[-1]
    if sort == "updated":
        items.sort(key=lambda p: (p.updated_at or NOW, p.number))
    else:
        items.sort(key=lambda p: p.number)  # in the order they were opened
    if q.get("direction", ["desc" if sort == "created" else "asc"])[-1] == "desc":
        items.reverse()
    headers, page = fake.page(items, q, f"{fake.prefix}/repos/{repo.owner}/{repo.name}/pulls")
    return 200, headers, [pull(fake, repo, p, "pull-request-simple") for p in page]


def _create(
    fake: FakeGitHub, repo: FakeRepo, pr: Any, q: Any, b: dict[str, Any], login: str
) -> Answer:
    from tests.fakes.github import FakePr

    head, base = b["head"], b["base"]
    if head not in repo.branches or base not in repo.branches:
        missing = head if head not in repo.branches else base
        return _error(
            422,
            "Validation Failed",
            errors=[
                {
                    "resource": "PullRequest",
                    "field": "head",
                    "code": "invalid",
                    "message": f"branch {missing} not found",
                }
            ],
        )
    if any(p.head == head and p.base == base and p.state == "open" for p in repo.prs.values()):
        msg = f"A pull request already exists for {repo.owner}:{head}."
        return _error(
            422,
            "Validation Failed",
            errors=[{"resource": "PullRequest", "code": "custom", "message": msg}],
        )
    if repo.branches[head] == repo.branches[base]:
        return _error(
            422,
            "Validation Failed",
            errors=[
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"No commits between {base} and {head}",
                }
            ],
        )
    number = max([0, *repo.prs]) + 1
    new = FakePr(
        number,
        b.get("title", ""),
        b.get("body") or "",
        head,
        base,
        repo.branches[head],
        login,
        draft=bool(b.get("draft")),
        mergeable_pending=fake.mergeable_after,
    )
    repo.prs[number] = new
    return 201, {}, pull(fake, repo, new)


def _get(fake: FakeGitHub, repo: FakeRepo, pr: FakePr, q: Any, b: Any, login: str) -> Answer:
    out = pull(fake, repo, pr)
    if pr.mergeable_pending:
        pr.mergeable_pending -= 1
    return 200, {}, out


def _update(
    fake: FakeGitHub, repo: FakeRepo, pr: FakePr, q: Any, b: dict[str, Any], login: str
) -> Answer:
    if b.get("state") == "closed" and pr.state == "open":
        pr.state, pr.closed_at = "closed", NOW
    for key in ("title", "body"):
        if key in b:
            setattr(pr, key, b[key])
    return 200, {}, pull(fake, repo, pr)


def review_json(fake: FakeGitHub, repo: FakeRepo, pr: FakePr, r: Review) -> dict[str, Any]:
    out = fake.spec.skeleton({"$ref": "#/components/schemas/pull-request-review"})
    return _overlay(
        out,
        id=r.id,
        user=user(fake, r.user),
        state=r.state,
        commit_id=r.commit_id,
        submitted_at=NOW,
        html_url=f"{fake.origin}/{repo.owner}/{repo.name}/pull/{pr.number}#pullrequestreview-{r.id}",
    )


def _reviews(
    fake: FakeGitHub, repo: FakeRepo, pr: FakePr, q: dict[str, list[str]], b: Any, login: str
) -> Answer:
    headers, page = fake.page(
        pr.reviews, q, f"{fake.prefix}/repos/{repo.owner}/{repo.name}/pulls/{pr.number}/reviews"
    )
    return 200, headers, [review_json(fake, repo, pr, r) for r in page]


def _review(
    fake: FakeGitHub, repo: FakeRepo, pr: FakePr, q: Any, b: dict[str, Any], login: str
) -> Answer:
    event = b.get("event")
    if event == "APPROVE" and login == pr.author:
        return _error(
            422, "Unprocessable Entity", errors=["Review Can not approve your own pull request"]
        )
    state = {
        "APPROVE": "APPROVED",
        "REQUEST_CHANGES": "CHANGES_REQUESTED",
        "COMMENT": "COMMENTED",
    }.get(event or "", "PENDING")
    r = Review(fake.new_id(), login, state, b.get("commit_id", pr.head_sha))
    pr.reviews.append(r)
    return 200, {}, review_json(fake, repo, pr, r)


def _merge(
    fake: FakeGitHub, repo: FakeRepo, pr: FakePr, q: Any, b: dict[str, Any], login: str
) -> Answer:
    if pr.merged_at is not None or pr.state != "open":
        return _error(405, "Pull Request is not mergeable")
    if "sha" in b and b["sha"] != pr.head_sha:
        return _error(409, "Head branch was modified. Review and try the merge again.")
    method = b.get("merge_method", "merge")
    if method == "merge" and not repo.allow_merge_commit:
        return _error(405, "Merge commits are not allowed on this repository.")
    if (refusal := repo.merge_refusal(pr)) is not None:
        return _error(405, refusal)
    sha = fake.new_sha("merge", pr.number, method)
    repo.branches[pr.base] = sha
    pr.state, pr.merged_at, pr.closed_at, pr.merged_by, pr.merge_commit_sha = (
        "closed",
        NOW,
        NOW,
        login,
        sha,
    )
    return 200, {}, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}


def _comment(
    fake: FakeGitHub, repo: FakeRepo, pr: FakePr, q: Any, b: dict[str, Any], login: str
) -> Answer:
    pr.comments.append(b["body"])
    out = fake.spec.skeleton({"$ref": "#/components/schemas/issue-comment"})
    return 201, {}, _overlay(out, id=fake.new_id(), body=b["body"], user=user(fake, login))


_ROUTES = {
    "repos/get": _repo_get,
    "pulls/list": _list,
    "pulls/create": _create,
    "pulls/get": _get,
    "pulls/update": _update,
    "pulls/list-reviews": _reviews,
    "pulls/create-review": _review,
    "pulls/merge": _merge,
    "issues/create-comment": _comment,
}


def _app_routes() -> None:
    from tests.fakes.github_app import create_run, list_comments

    _ROUTES["checks/create"] = create_run
    _ROUTES["issues/list-comments"] = list_comments


_app_routes()
