"""`create_router`: the dashboard page and its JSON API on top of `CronJobController`.

JSON shapes are `cronctl -o json`'s (list, describe, history, explain, suspend, resume), except
two: `logs` (`{"job", "lines": [{"pod", "line"}], "truncated"}`; cronctl prints text) and
`trigger`, which returns the created Job's apiVersion, kind and metadata but not its spec (the
pod template carries the environment). Errors are `{"detail": message}` with the status of
`cronjobs.web.security.status_for`. The controller is synchronous: every call runs in Starlette's
threadpool, never on the event loop.
"""

# No `from __future__ import annotations`: FastAPI reads the route signatures at run time,
# and they name dependencies local to create_router.

import inspect
import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cronjobs.cronctl.controller import CronJobController
from cronjobs.cronctl.display import printable
from cronjobs.cronctl.errors import CronctlError
from cronjobs.cronctl.window import DASHBOARD_MAX_TICKS
from cronjobs.web import assets, page, page_detail
from cronjobs.web.security import (
    CSRF_COOKIE,
    READ_ONLY,
    Csrf,
    check_name,
    refuse,
    status_for,
    translate,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class SuspendBody(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


class TriggerBody(BaseModel):
    force: bool = False


def create_router(
    controller: CronJobController | Callable[[], CronJobController],
    *,
    auth: Callable[..., Any] | None = None,
    csrf_secret: bytes | None = None,
    title: str = "CronJobs",
    refresh_seconds: int = 30,
    log_lines: int = 200,
    token_sign_in: bool = False,
) -> APIRouter:
    """The router; mount it with `app.include_router(router, prefix="/admin/cronjobs")`.

    `auth`: a FastAPI dependency returning who is acting (or raising 401). Without it the router
    is read-only: POSTs answer 403 and the page shows no buttons. `csrf_secret`: the key that
    signs CSRF tokens; pass the same one to every worker/replica (default: random per router).
    `token_sign_in`: the page offers a token field (for `auth=BearerTokens(...)`).
    """
    read_only = auth is None
    csrf = Csrf(csrf_secret)
    router = APIRouter()

    def get() -> CronJobController:
        """The controller, confined to its selector: a CronJob it does not match is 404, for
        reads and changes alike, even by name."""
        c = controller if isinstance(controller, CronJobController) else controller()
        return c.confine()

    async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await run_in_threadpool(fn, *args, **kwargs)
        except CronctlError as e:
            translate(e)

    async def guard(request: Request) -> None:
        """Read-only and cross-site refusals, before the auth dependency runs."""
        if read_only:
            refuse(403, READ_ONLY)
        csrf.check(request)

    async def actor(
        _: Annotated[None, Depends(guard)], who: Annotated[Any, Depends(auth or _nobody)]
    ) -> str:
        if not who:
            refuse(401, "sign in: the auth dependency named no one")
        return str(who)

    def base(request: Request) -> str:
        return str(request.url_for("cronctl_dashboard").path)

    def html(
        request: Request, body: str, status: int = 200, heading: str | None = None
    ) -> Response:
        token = csrf.token_for(request)
        now = get().clock()
        text = page.layout(
            title, body, base=base(request), csrf=token, read_only=read_only,
            refresh_seconds=refresh_seconds, token_sign_in=token_sign_in, now=now, heading=heading,
        )  # fmt: skip
        response = HTMLResponse(text, status_code=status, headers=HEADERS)
        secure = request.url.scheme == "https"
        response.set_cookie(
            CSRF_COOKIE, token, path=base(request), samesite="strict", httponly=True, secure=secure
        )
        return response

    # -- the page --------------------------------------------------------------------------------

    @router.get("/", response_class=HTMLResponse, name="cronctl_dashboard")
    async def dashboard(request: Request) -> Response:
        c = get()
        try:
            infos = await run_in_threadpool(c.list_cronjobs)
        except CronctlError as e:
            return html(request, page.error(str(e), status_for(e), base(request)), status_for(e))
        return html(request, page.dashboard(infos, c.clock(), base(request), read_only))

    @router.get("/jobs/{name}", response_class=HTMLResponse)
    async def job_page(request: Request, name: str) -> Response:
        c = get()
        try:
            check_name(name)
            x = await run_in_threadpool(c.explain, name, max_ticks=DASHBOARD_MAX_TICKS)
        except CronctlError as e:
            return html(request, page.error(str(e), status_for(e), base(request)), status_for(e))
        except HTTPException as e:
            return html(
                request, page.error(str(e.detail), e.status_code, base(request)), e.status_code
            )
        logs, problem = None, None
        if x.info.runs:
            try:
                logs = await run_in_threadpool(_tail, c, x.info.runs[0].name, log_lines)
            except CronctlError as e:
                problem = str(e)
        else:
            problem = "No runs, so no log."
        body = page_detail.detail(x, logs, problem, c.clock(), read_only)
        return html(request, body, heading=name)

    @router.get("/assets/dashboard.css", include_in_schema=False)
    async def css() -> Response:
        return Response(assets.CSS, media_type="text/css", headers={"Cache-Control": "max-age=300"})

    @router.get("/assets/dashboard.js", include_in_schema=False)
    async def js() -> Response:
        return Response(
            assets.JS, media_type="text/javascript", headers={"Cache-Control": "max-age=300"}
        )

    # -- reading ---------------------------------------------------------------------------------

    @router.get("/api/session")
    async def session(request: Request) -> JSONResponse:
        """Whether changes are possible, and a CSRF token for API clients (cookie + value)."""
        token = csrf.token_for(request)
        body = {
            "read_only": read_only,
            "message": READ_ONLY if read_only else None,
            "csrf_token": token,
        }
        response = JSONResponse(body, headers={"Cache-Control": "no-store"})
        response.set_cookie(
            CSRF_COOKIE, token, path=base(request), samesite="strict", httponly=True
        )
        return response

    @router.get("/api/cronjobs")
    async def list_cronjobs() -> list[dict[str, Any]]:
        infos = await call(get().list_cronjobs)
        return [i.to_dict() for i in infos]

    @router.get("/api/cronjobs/{name}")
    async def describe(name: str) -> dict[str, Any]:
        info = await call(get().describe, check_name(name))
        return info.to_dict(with_runs=True)

    @router.get("/api/cronjobs/{name}/history")
    async def history(name: str) -> list[dict[str, Any]]:
        runs = await call(get().history, check_name(name))
        return [r.to_dict() for r in runs]

    @router.get("/api/cronjobs/{name}/logs")
    async def logs(
        name: str, job: str | None = None, tail: int = Query(default=log_lines, ge=1, le=10000)
    ) -> dict[str, Any]:
        c = get()
        job_name = await call(
            c.job_for_logs, check_name(name), check_name(job) if job is not None else None
        )
        return await call(_tail, c, job_name, tail)

    @router.get("/api/cronjobs/{name}/explain")
    async def explain(name: str, since: datetime | None = None) -> dict[str, Any]:
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        x = await call(get().explain, check_name(name), since, max_ticks=DASHBOARD_MAX_TICKS)
        return x.to_dict()

    # -- changes ---------------------------------------------------------------------------------

    @router.post("/api/cronjobs/{name}/suspend")
    async def suspend(
        name: str, who: Annotated[str, Depends(actor)], body: SuspendBody | None = None
    ) -> list[dict[str, Any]]:
        reason = ((body.reason if body else None) or "").strip() or None
        changes = await call(get().suspend, (check_name(name),), reason=reason, who=who)
        shown = printable(reason) if reason else "no reason given"
        log.info("%s suspended CronJob %s: %s", printable(who), name, shown)
        return [ch.to_dict() for ch in changes]

    @router.post("/api/cronjobs/{name}/resume")
    async def resume(name: str, who: Annotated[str, Depends(actor)]) -> list[dict[str, Any]]:
        c = get()
        kwargs = {"who": who} if "who" in inspect.signature(c.resume).parameters else {}
        changes = await call(c.resume, (check_name(name),), **kwargs)
        log.info("%s resumed CronJob %s", printable(who), name)
        return [ch.to_dict() for ch in changes]

    @router.post("/api/cronjobs/{name}/trigger")
    async def trigger(
        name: str, who: Annotated[str, Depends(actor)], body: TriggerBody | None = None
    ) -> dict[str, Any]:
        force = body.force if body else False
        result = await call(get().trigger, check_name(name), force=force, who=who)
        log.info("%s triggered CronJob %s: Job %s", printable(who), name, result.name)
        job = result.job
        return {
            "apiVersion": job.get("apiVersion"),
            "kind": job.get("kind"),
            "metadata": job["metadata"],
        }

    return router


def _nobody() -> None:
    return None


def _tail(c: CronJobController, job_name: str, lines: int) -> dict[str, Any]:
    """The last `lines` lines of the Job's pods (oldest pod first), read in the threadpool."""
    kept: deque[tuple[str, str]] = deque(maxlen=lines)
    total = 0
    for pod, line in c.job_logs(job_name):
        kept.append((pod, line))
        total += 1
    return {
        "job": job_name,
        "lines": [{"pod": pod, "line": line} for pod, line in kept],
        "truncated": total > lines,
    }
