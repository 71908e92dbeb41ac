"""The keeper's tests share cronctl's emulator fixtures (the Kubernetes API stand-in)."""

from tests.cronctl.conftest import cluster, emulator_server  # noqa: F401
