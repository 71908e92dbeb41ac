"""`create_app`: a FastAPI app around the router, for `cronctl serve` (the web app mounts the
router into its own app instead; see docs/dashboard.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from cronjobs import __version__
from cronjobs.cronctl.controller import CronJobController
from cronjobs.web.router import create_router


def create_app(
    controller: CronJobController,
    *,
    auth: Callable[..., Any] | None = None,
    token_sign_in: bool = False,
    csrf_secret: bytes | None = None,
) -> FastAPI:
    """The dashboard at /cronjobs/, /healthz for the probes (no API call), / redirects."""
    app = FastAPI(title="cronctl", version=__version__, docs_url=None, redoc_url=None)
    router = create_router(
        controller, auth=auth, token_sign_in=token_sign_in, csrf_secret=csrf_secret
    )
    app.include_router(router, prefix="/cronjobs")

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("cronjobs/")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
