"""A test driver of the Argo CD gate: polls one app through the fake's frames with `assess`
(the product never blocks in such a loop — `next --wait` observes again — but the gate's
verdicts are best tested frame by frame)."""

from __future__ import annotations

import time
from collections.abc import Callable

from prodfix.adapters.argocd import AppReader, AppStatus, assess
from prodfix.errors import Exit, ProdfixError, ServiceError
from prodfix.types import short


class DeployFailed(ProdfixError):
    """Argo CD reports the deployment failed: the `deploy` step is `failed` (exit 1)."""

    def __init__(self, app: str, message: str, status: AppStatus) -> None:
        super().__init__(
            f"Argo CD app {app}: {message}",
            hint=f"look at {app} in Argo CD; to go back, revert the image-tag PR (`prodfix deploy --tag OLD --rollback`)",
            code=Exit.FAILED,
        )
        self.app = app
        self.status = status


def wait_deployed(
    reader: AppReader,
    app: str,
    *,
    merge_commit: str,
    image: str,
    is_descendant: Callable[[str, str], bool],
    timeout: float = 900.0,
    interval: float = 5.0,
    grace: float = 60.0,
    refresh_every: float = 60.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_tick: Callable[[str], None] | None = None,
) -> AppStatus:
    """Poll `app` until `merge_commit` (or a descendant: `is_descendant(rev, merge_commit)`) is
    synced, its operation succeeded, the app is Healthy and runs `image` (repo:tag).

    Raises DeployFailed (exit 1) when the sync operation fails or health stays Degraded for
    `grace` seconds at the new revision, ServiceError (exit 4) naming the unmet condition on
    timeout. Returns the final status.
    """
    # Ancestry of a commit never changes, and each uncached answer forks git: ask once per SHA.
    known: dict[tuple[str, str], bool] = {}

    def descends(rev: str, base: str) -> bool:
        if (rev, base) not in known:
            known[rev, base] = is_descendant(rev, base)
        return known[rev, base]

    start = clock()
    deadline = start + timeout
    # One refresh right after the merge: without a webhook Argo CD notices new commits only on
    # its ~3 min reconciliation poll (§5.3).
    st = reader.refresh(app)
    last_refresh = start
    degraded_since: float | None = None
    while True:
        now = clock()
        v = assess(st, merge_commit=merge_commit, image=image, is_descendant=descends)
        if on_tick is not None:
            on_tick(st.line() + ("" if v.done else f"; waiting for {v.waiting_for}"))
        if v.done:
            return st
        if v.failure:
            raise DeployFailed(app, v.failure, st)
        if v.degraded:
            # Mirror `argocd app wait`: Degraded counts only once it persists at the new
            # revision; a rollout passes through short Degraded blips (§5.7 health gate).
            degraded_since = now if degraded_since is None else degraded_since
            if now - degraded_since >= grace:
                raise DeployFailed(
                    app,
                    f"health Degraded for {now - degraded_since:.0f}s at "
                    f"{short(st.sync_revision or '')}: {st.health_message or '(no message)'}",
                    st,
                )
        else:
            degraded_since = None
        if now >= deadline:
            errors = [f"{c.type}: {c.message}" for c in st.conditions if c.type.endswith("Error")]
            raise ServiceError(
                f"Argo CD app {app} not deployed after {timeout:.0f}s: still waiting for "
                f"{v.waiting_for}" + (f" (conditions: {'; '.join(errors)})" if errors else ""),
                hint=f"Argo CD may still be catching up: run the command again to keep waiting, "
                f"or look at {app} in Argo CD",
            )
        sleep(max(0.0, min(interval, deadline - now)))
        if not v.at_revision and clock() - last_refresh >= refresh_every:
            # Still before the merge: refresh again in case the first one raced the push.
            st = reader.refresh(app)
            last_refresh = clock()
        else:
            st = reader.get(app)
