"""Fixtures for the dashboard: the cronctl emulator fixtures (re-exported from tests/cronctl), a
controller on a fresh namespace, and a FastAPI app that mounts the router under a prefix.

The emulator (kmock, extended in tests/cronctl/emulator.py) stands in for the API server, which
cannot run here; the router's controller talks to it over real HTTP on loopback.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Header, HTTPException
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient and warns on import; httpx works the same.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from cronjobs.cronctl.controller import CronJobController
from cronjobs.web import create_router
from tests.cronctl.conftest import Cluster, cluster, emulator_server  # noqa: F401

PREFIX = "/ops/cronjobs"


def header_user(x_user: Annotated[str | None, Header()] = None) -> str:
    """The app's auth dependency, as a test stands it in: the user named in X-User, else 401."""
    if not x_user:
        raise HTTPException(status_code=401, detail="who are you? sign in to the app first")
    return x_user


def app_with(controller: CronJobController, auth: Callable[..., Any] | None) -> FastAPI:
    app = FastAPI()
    app.include_router(create_router(controller, auth=auth), prefix=PREFIX)
    return app


@pytest.fixture()
def controller(cluster: Cluster) -> Iterator[CronJobController]:  # noqa: F811
    c = cluster.controller()
    yield c
    c.close()


@pytest.fixture()
def client(controller: CronJobController) -> Iterator[TestClient]:
    """The router mounted with the app's auth dependency (X-User)."""
    with TestClient(app_with(controller, header_user)) as c:
        yield c


@pytest.fixture()
def read_only(controller: CronJobController) -> Iterator[TestClient]:
    """The router mounted without an auth dependency."""
    with TestClient(app_with(controller, None)) as c:
        yield c


def csrf(client: TestClient) -> dict[str, str]:
    """What the dashboard's script sends with a POST: the CSRF token (the cookie is now set)."""
    token = client.get(f"{PREFIX}/api/session").json()["csrf_token"]
    return {"X-CSRF-Token": token}
