"""The service's parts wired together: settings, database, GitHub App client, throttles,
metrics, served repositories and the snapshot cache. Handlers and routes receive one `Service`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prodfix.errors import ProdfixError
from prodfix.serve import snapshot as snap
from prodfix.serve.db import Database
from prodfix.serve.metrics import Metrics
from prodfix.serve.settings import Settings
from prodfix.serve.targets import Target, auth_env, fetch, open_clone, resolve
from prodfix.serve.throttle import Throttles

if TYPE_CHECKING:
    from prodfix.adapters.forge.github.app import GitHubAppClient
    from prodfix.adapters.http import RetryPolicy
    from prodfix.adapters.store import Store
    from prodfix.workflow.context import Ctx

SNAPSHOT_TTL = 2.0  # seconds the merged snapshot is served from memory before re-reading


@dataclass
class Service:
    settings: Settings
    db: Database
    app: GitHubAppClient | None = None
    metrics: Metrics = field(default_factory=Metrics)
    throttles: Throttles = field(default_factory=Throttles)
    targets: dict[str, Target] = field(default_factory=dict)
    http_policy: RetryPolicy | None = None  # the forge client's retries (tests: no sleeping)
    _store: Store | None = None
    _snap: tuple[float, snap.Snapshot] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, settings: Settings, db: Database, app: GitHubAppClient | None = None) -> Service:
        api = settings.github.api_url if settings.github else None
        svc = cls(settings, db, app)
        for spec in settings.repos:
            t = resolve(spec.url, api_url=api, github_repo=spec.github_repo)
            svc.targets[t.key] = t
        return svc

    # -- repositories --------------------------------------------------------------------------

    def served(self) -> list[Target]:
        with self._lock:
            return sorted(self.targets.values(), key=lambda t: t.key)

    def target(self, key: str) -> Target | None:
        """A served repository by name; with the App and no [[repos]] list, any repository the
        App's webhooks name is served."""
        if key in self.targets:
            return self.targets[key]
        lowered = {k.lower(): t for k, t in self.targets.items()}
        if key.lower() in lowered:
            return lowered[key.lower()]
        if self.settings.github is not None and not self.settings.repos:
            from prodfix.serve.targets import github_target

            t = github_target(key, api_url=self.settings.github.api_url)
            with self._lock:
                return self.targets.setdefault(t.key, t)
        return None

    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                from prodfix.serve.core import service_store

                self._store = service_store()
            return self._store

    def context(
        self, target: Target, *, installation: int | None = None, pull: int | None = None
    ) -> Ctx:
        """A fresh look at one served repository: its clone fetched, its config read from the
        mainline, its forge (the App's installation on GitHub, else the embedded one)."""
        from prodfix.serve.core import load_config
        from prodfix.workflow.context import Ctx

        env = None
        credential = None
        inst = 0
        if target.github is not None:
            if self.app is None:
                raise ProdfixError(
                    f"{target.key} is a GitHub repository and no [github] App is configured",
                    hint="configure [github] in prodfix-serve.toml",
                )
            app = self.app
            inst = installation or app.installation_for(target.github.full_name)
            app.remember_installation(target.github.full_name, inst)
            credential = app.token(inst)
            if target.url.startswith(("https://", "http://")):

                def env_now() -> dict[str, str]:
                    return auth_env(app.token(inst).secret)

                env = env_now
        repo = open_clone(target, env)
        fetch(repo, pull=pull if target.github is not None else None)
        cfg = load_config(repo, source=target.url)
        ctx = Ctx(repo=repo, cfg=cfg, store=self.store())
        if target.github is not None:
            from prodfix.adapters.forge.github.forge import GitHubForge

            forge = GitHubForge(target.github, credential, policy=self.http_policy)
            forge.api.http.client.event_hooks["request"].append(self.throttles.hook(inst))
            ctx.__dict__["forge"] = forge  # the cached property, filled (as Ctx.with_fix does)
        return ctx

    # -- snapshots ------------------------------------------------------------------------------

    def save_snapshot(self, key: str, doc: snap.Snapshot) -> None:
        with self.db.tx() as cur:
            cur.run(
                "INSERT INTO snapshots (repo, doc, updated) VALUES (?, ?, ?)"
                " ON CONFLICT (repo) DO UPDATE SET doc = excluded.doc, updated = excluded.updated",
                (key, json.dumps(doc), time.time()),
            )
        with self._lock:
            self._snap = None

    def snapshot(self) -> snap.Snapshot:
        """The merged snapshot of every served repository (the dashboard's and /api/fixes')."""
        now = time.monotonic()
        with self._lock:
            if self._snap is not None and now - self._snap[0] < SNAPSHOT_TTL:
                return self._snap[1]
        try:
            with self.db.tx() as cur:
                rows = cur.rows("SELECT doc FROM snapshots ORDER BY repo")
            parts: list[snap.Snapshot] = [json.loads(r[0]) for r in rows]
        except ProdfixError:
            with self._lock:
                return self._snap[1] if self._snap else snap.empty()
        merged = snap.merge(parts)
        merged["policy"] = self.policy_results()
        with self._lock:
            self._snap = (now, merged)
        return merged

    def policy_results(self) -> list[snap.PolicyResult]:
        with self.db.tx() as cur:
            rows = cur.rows(
                "SELECT repo, pr, head_sha, conclusion, findings FROM policy_results"
                " ORDER BY updated DESC LIMIT 500"
            )
        return [
            {
                "repo": r[0],
                "pr": int(r[1]),
                "head_sha": r[2],
                "conclusion": "success" if r[3] == "success" else "failure",
                "findings": json.loads(r[4]),
            }
            for r in rows
        ]

    def record_policy(
        self, key: str, pr: int, head: str, base: str, conclusion: str, findings: list[Any]
    ) -> bool:
        """Store the verdict; True when it differs from the one stored for this PR."""
        with self.db.tx() as cur:
            old = cur.rows(
                "SELECT head_sha, base, conclusion, findings FROM policy_results"
                " WHERE repo = ? AND pr = ?",
                (key, pr),
            )
            doc = json.dumps(findings, sort_keys=True)
            if old and tuple(old[0]) == (head, base, conclusion, doc):
                return False
            cur.run(
                "INSERT INTO policy_results (repo, pr, head_sha, base, conclusion, findings,"
                " updated) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repo, pr) DO UPDATE SET"
                " head_sha = excluded.head_sha, base = excluded.base,"
                " conclusion = excluded.conclusion, findings = excluded.findings,"
                " updated = excluded.updated",
                (key, pr, head, base, conclusion, doc, time.time()),
            )
        with self._lock:
            self._snap = None
        return True

    def close(self) -> None:
        if self.app is not None:
            self.app.close()
        if self._store is not None:
            self._store.close()
        self.db.close()
