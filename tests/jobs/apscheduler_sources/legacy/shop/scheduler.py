from apscheduler.schedulers.background import BackgroundScheduler

import shop.tasks.reports

from . import tasks
from .tasks import reports as r
from .tasks.reports import prune_carts as prune

scheduler = BackgroundScheduler()


def start() -> None:
    scheduler.add_job(r.nightly_report, "cron", hour=1)
    scheduler.add_job(prune, "cron", day=1)
    scheduler.add_job(shop.tasks.reports.rebuild_index, "interval", hours=6)
    scheduler.add_job(tasks.reports.nightly_report, "interval", days=1, id="report-daily")
    scheduler.add_job(housekeeping, "interval", weeks=1)
    scheduler.start()


def housekeeping() -> None:
    """Tidy up."""
