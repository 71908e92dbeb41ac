"""The emulator's RBAC has more than one subject: `privileged` clients (by User-Agent, as the
keeper's ServiceAccount with its own Role) are not held to `forbidden`, in the 403s and in the
SelfSubjectAccessReviews alike, while everyone else still is."""

from __future__ import annotations

from cronjobs.cronctl.api import ClientSettings, KubeApi
from cronjobs.cronctl.errors import Forbidden
from tests.cronctl.conftest import Cluster


def test_a_privileged_client_is_not_held_to_what_others_are_denied(cluster: Cluster) -> None:
    import pytest

    cluster.add_cronjob("web-cronjobs-a")
    operator = KubeApi(ClientSettings(kubeconfig=str(cluster.kubeconfig)))
    keeper = KubeApi(
        ClientSettings(kubeconfig=str(cluster.kubeconfig), field_manager="cronctl-keeper")
    )
    cluster.emulator.privileged.add("cronctl-keeper")
    with cluster.emulator.deny("list", "batch/cronjobs"):
        assert operator.can("list", "batch/cronjobs", cluster.namespace) is False
        assert keeper.can("list", "batch/cronjobs", cluster.namespace) is True
        with pytest.raises(Forbidden):
            operator.list("batch/cronjobs", cluster.namespace)
        assert [
            c["metadata"]["name"] for c in keeper.list("batch/cronjobs", cluster.namespace)
        ] == ["web-cronjobs-a"]
