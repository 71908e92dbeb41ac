"""The Python API the FastAPI app imports: the seed's scheduler_service abilities."""

from __future__ import annotations

import pytest

from cronjobs.cronctl import ConfigError, CronJobController, HelmManaged, NotFound
from tests.cronctl.conftest import Cluster


def test_seed_api_get_pause_resume_trigger(cluster: Cluster) -> None:
    cluster.add_cronjob("web-cronjobs-health-check")
    controller = cluster.controller()
    try:
        [job] = controller.get_jobs()
        assert job["name"] == "web-cronjobs-health-check" and job["suspended"] is False

        paused = controller.pause_job("web-cronjobs-health-check", reason="maint", who="web:bob")
        assert (paused.action, paused.changed) == ("suspended", True)
        assert controller.get_jobs()[0]["suspended_by"] == "web:bob"
        assert controller.pause_job("web-cronjobs-health-check").action == "already suspended"
        assert controller.resume_job("web-cronjobs-health-check").action == "resumed"

        triggered = controller.trigger_job("web-cronjobs-health-check", who="web:bob")
        assert (
            triggered.job["metadata"]["annotations"]["cronctl.cronjobs.dev/triggered-by"]
            == "web:bob"
        )
        assert [r.trigger for r in controller.history("web-cronjobs-health-check")] == ["manual"]
    finally:
        controller.close()


def test_remove_refuses_helm_managed_unless_forced(cluster: Cluster) -> None:
    cluster.add_cronjob("web-cronjobs-health-check")
    cluster.add_cronjob("hand-made", labels={"app.kubernetes.io/name": "cronjobs"})
    controller = cluster.controller()
    try:
        with pytest.raises(
            HelmManaged,
            match=r'managed by Helm release "web": disable the job '
            r"in the chart's values \(jobs.health-check\)",
        ):
            controller.remove_job("web-cronjobs-health-check")
        controller.remove_job("hand-made")
        with pytest.raises(NotFound):
            controller.describe("hand-made")
        controller.remove_job("web-cronjobs-health-check", force=True)
        assert controller.list_cronjobs() == []
    finally:
        controller.close()


def test_names_need_one_namespace(cluster: Cluster) -> None:
    controller = cluster.controller(all_namespaces=True)
    try:
        with pytest.raises(ConfigError, match="use -n NAMESPACE instead of -A"):
            controller.describe("x")
    finally:
        controller.close()
    assert isinstance(controller, CronJobController)
