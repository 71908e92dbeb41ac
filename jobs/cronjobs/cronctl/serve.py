"""`cronctl serve`: the dashboard (cronjobs.web) standalone, under uvicorn. Needs the `web` extra;
imported only when the command runs, so `cronctl --help` and the jobs image do without it."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cronjobs.cronctl.errors import ConfigError, CronctlError

if TYPE_CHECKING:
    from cronjobs.cronctl.controller import CronJobController


def serve(
    controller: CronJobController,
    *,
    host: str,
    port: int,
    tokens_file: str | None = None,
    trust_user_header: str | None = None,
    root_path: str = "",
) -> None:
    """Serve until stopped: read-only, unless `tokens_file` (bearer tokens, `NAME TOKEN` lines)
    or `trust_user_header` (an auth proxy's user header) names who may change CronJobs."""
    try:
        import uvicorn

        from cronjobs.web.app import create_app
        from cronjobs.web.auth import BearerTokens, TrustedHeader
    except ImportError as e:
        raise ConfigError(
            f"cronctl serve needs the web extra ({e.name} is missing): install it from this "
            "repository with pip install '.[web]' (the project venv: .venv/bin/pip install -e "
            "'.[web]')"
        ) from e
    if tokens_file and trust_user_header:
        raise ConfigError("choose one auth method: --tokens-file or --trust-user-header")
    auth: Any = None
    if tokens_file:
        try:
            auth = BearerTokens(Path(tokens_file))
        except (OSError, ValueError) as e:
            raise ConfigError(f"--tokens-file: {e}") from e
    elif trust_user_header:
        auth = TrustedHeader(trust_user_header)
    _can_listen(host, port)
    app = create_app(controller, auth=auth, token_sign_in=bool(tokens_file))
    try:
        uvicorn.run(
            app, host=host, port=port, root_path=root_path, log_config=None, server_header=False
        )
    except SystemExit as e:  # uvicorn's own exit when it cannot start (3, "trigger refused" here)
        if e.code not in (0, None):
            raise CronctlError(f"the dashboard did not start on {host}:{port} (see above)") from e
        raise


def _can_listen(host: str, port: int) -> None:
    """Fail before start-up, with what to do, when the address cannot be listened on."""
    try:  # every address the host names: uvicorn binds them all (localhost: ::1 and 127.0.0.1)
        for family, _, _, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
    except OSError as e:
        raise ConfigError(
            f"cannot listen on {host}:{port} ({e.strerror or e}): pick another --port (or "
            "--host), or stop what is using it"
        ) from e
