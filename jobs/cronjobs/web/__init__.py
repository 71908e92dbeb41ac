"""cronjobs.web: the CronJobs dashboard and its JSON API, a FastAPI router on `CronJobController`.

Needs the `web` extra (FastAPI); nothing outside this package imports it, so the jobs image and
`cronctl --help` do without. Mount it in the app:

    from cronjobs.cronctl import CronJobController
    from cronjobs.web import create_router

    app.include_router(
        create_router(CronJobController.connect(), auth=current_user_name),
        prefix="/admin/cronjobs",
    )

`cronctl serve` runs it standalone (cronjobs.web.app.create_app).
"""

from cronjobs.web.auth import BearerTokens, TrustedHeader
from cronjobs.web.router import create_router

__all__ = ["BearerTokens", "TrustedHeader", "create_router"]
