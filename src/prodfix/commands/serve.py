"""`prodfix serve [--config FILE] [--host H] [--port P] [--database URL] [REPO...]`: the team
service. Its dependencies come with the `serve` extra and are imported only here."""

from __future__ import annotations

import importlib
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from prodfix.app import App
from prodfix.errors import Exit, ProdfixError

if TYPE_CHECKING:
    from prodfix.serve.service import Service

NEEDED = ("starlette", "uvicorn", "jinja2", "jwt")
INSTALL = "pip install 'prodfix[serve]'"


def _missing(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return True
    return False


def require_extra(database: str) -> None:
    missing = [m for m in NEEDED if _missing(m)]
    if database.startswith(("postgresql://", "postgres://")) and _missing("psycopg"):
        missing.append("psycopg")
    if missing:
        raise ProdfixError(
            f"`prodfix serve` needs packages that are not installed: {', '.join(missing)}",
            hint=f"install them with: {INSTALL}",
        )


def run(
    app: App,
    *,
    config: Path | None,
    host: str | None,
    port: int | None,
    database: str | None,
    repos: list[str],
) -> int:
    from prodfix.serve import settings as settings_mod

    if config is None and (app.cwd / settings_mod.FILENAME).is_file():
        config = app.cwd / settings_mod.FILENAME
    elif config is not None and not config.is_absolute():
        config = app.cwd / config
    specs = tuple(str(app.cwd / r) if Path(app.cwd / r).exists() else r for r in repos)
    settings = settings_mod.load(config, host=host, port=port, database=database, repos=specs)
    require_extra(settings.database)

    import uvicorn

    from prodfix.serve.app import create_app
    from prodfix.serve.db import Database
    from prodfix.serve.service import Service
    from prodfix.serve.worker import Poller, Workers

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    db = Database(settings.database)
    db.migrate()
    client = None
    if settings.github is not None:
        from prodfix.adapters.forge.github.app import GitHubAppClient

        client = GitHubAppClient(
            settings.github.api_url, settings.github.app_id, settings.github.private_key()
        )
    svc = Service.build(settings, db, client)
    workers = Workers(svc, count=settings.workers, lease=float(settings.lease_seconds))
    poller = Poller(svc, interval=float(settings.poll_seconds))
    workers.start()
    if svc.targets:
        poller.start()
    if settings.github is not None and settings.github.redeliver_failed:
        threading.Thread(target=_redeliver, args=(svc,), daemon=True).start()
    app.out.say(
        f"prodfix serve: http://{settings.host}:{settings.port}/ — {len(svc.targets)} "
        f"repositor{'y' if len(svc.targets) == 1 else 'ies'}, database {db.display}"
    )
    try:
        uvicorn.run(
            create_app(settings, db, service=svc),
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
        )
    finally:
        poller.stop.set()
        workers.shutdown()
        svc.close()
    return Exit.OK


def _redeliver(svc: Service) -> None:
    from prodfix.serve.worker import redeliver_failed

    log = logging.getLogger("prodfix.serve")
    try:
        asked = redeliver_failed(svc)
        if asked:
            log.info("asked GitHub to redeliver %d failed webhook deliveries", asked)
    except ProdfixError as exc:
        log.warning("redelivery of failed webhooks: %s", exc.message)
