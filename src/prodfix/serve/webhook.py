"""GitHub webhooks: the signature, and which events become which jobs.

The signature is checked over the raw bytes before anything parses them (GitHub: "Validating
webhook deliveries", docs.github.com — HMAC-SHA256 of the body with the webhook secret, hex, in
`X-Hub-Signature-256` as `sha256=…`, compared in constant time). The legacy SHA-1 header is not
accepted. A job only says "look at this PR / delivery branch again": the worker re-reads the
current state, so an old or repeated event can never make it act on stale facts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

MAX_BODY = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB (docs.github.com, "Webhook events")
PR_ACTIONS = frozenset({"opened", "synchronize", "reopened", "edited", "ready_for_review"})
POLICY_CHECK = "prodfix/policy"


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    if not secret or not header or not header.startswith("sha256="):
        return False
    want = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, header.removeprefix("sha256="))


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class JobSpec:
    kind: str  # pr | push
    repo: str  # owner/name
    dedupe_key: str
    payload: dict[str, Any]


def jobs_for(event: str, body: bytes) -> list[JobSpec] | None:
    """The jobs an event asks for; None when the event or action is not ours (ignored)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    repo = (doc.get("repository") or {}).get("full_name")
    installation = (doc.get("installation") or {}).get("id")
    if not isinstance(repo, str) or not repo:
        return None
    base: dict[str, Any] = {"installation": installation}
    action = doc.get("action")
    if event == "pull_request":
        if action not in PR_ACTIONS:
            return None
        if action == "edited" and "base" not in (doc.get("changes") or {}):
            return None  # a title or body edit changes nothing the policy judges
        pr = doc.get("pull_request") or {}
        return [_pr_job(repo, base, pr.get("number"), (pr.get("head") or {}).get("sha"))]
    if event == "push":
        ref = str(doc.get("ref") or "")
        if not ref.startswith("refs/heads/") or doc.get("deleted"):
            return None
        branch = ref.removeprefix("refs/heads/")
        return [
            JobSpec(
                "push",
                repo,
                f"push:{repo}:{branch}",
                {**base, "branch": branch, "after": doc.get("after")},
            )
        ]
    if event in ("check_run", "check_suite") and action == "rerequested":
        item = doc.get(event) or {}
        name = item.get("name") if event == "check_run" else POLICY_CHECK
        if name != POLICY_CHECK:
            return None
        prs = item.get("pull_requests") or []
        rerun = {**base, "rerun": True}
        jobs = [_pr_job(repo, rerun, p.get("number"), item.get("head_sha"), "rerun") for p in prs]
        return jobs or None
    return None


def _pr_job(repo: str, base: dict[str, Any], number: Any, head: Any, why: str = "pr") -> JobSpec:
    return JobSpec(
        "pr",
        repo,
        f"{why}:{repo}:{number}:{head}",
        {**base, "number": int(number), "head_sha": str(head or "")},
    )
