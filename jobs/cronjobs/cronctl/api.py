"""The one module that talks to the Kubernetes API (and the only one importing `kubernetes`).

It loads configuration explicitly (never `kubernetes.config.load_config()`, whose in-cluster
fallback prints to stdout), sends raw JSON requests through the official client's ApiClient (auth,
TLS and proxies stay the client's job; objects stay plain dicts), and translates every API or
network error once, in `_request`, into the flat exceptions of `cronjobs.cronctl.errors`.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from cronjobs import __version__
from cronjobs.cronctl.errors import (
    ApiError,
    ConfigError,
    Conflict,
    CronctlError,
    Forbidden,
    NotFound,
    Unreachable,
)
from cronjobs.cronctl.kubeconfig import (
    check_server,
    credential_errors,
    login_name,
    one_line,
    service_account,
)
from cronjobs.redact import redact_url

log = logging.getLogger(__name__)

Obj = dict[str, Any]
SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
MERGE_PATCH = "application/merge-patch+json"
PAGE_SIZE = 500


@dataclass(frozen=True)
class ClientSettings:
    """How to reach the cluster. The CLI fills it from flags/env; the FastAPI app from its own."""

    kubeconfig: str | None = None
    """Path(s) to kubeconfig (os.pathsep-separated, merged in order, as kubectl does); None:
    $KUBECONFIG as kubectl reads it, else in-cluster if in a pod, else ~/.kube/config."""
    context: str | None = None
    request_timeout: float = 30.0
    field_manager: str = "cronctl"
    """Who cronctl is to the API server: the `fieldManager` of every write (so managedFields
    name it) and the User-Agent `<field_manager>/<version>` (so audit logs do). The dashboard
    (`cronctl serve`) is "cronctl-serve"."""

    @classmethod
    def from_env(cls, field_manager: str = "cronctl") -> ClientSettings:
        return cls(
            kubeconfig=os.environ.get("KUBECONFIG") or None,
            context=os.environ.get("CRONCTL_CONTEXT") or None,
            request_timeout=float(os.environ.get("CRONCTL_REQUEST_TIMEOUT", "30")),
            field_manager=field_manager,
        )


class KubeApi:
    """A connected client: `namespace` and `user` come from the kubeconfig context (or the pod)."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        configuration = k8s_client.Configuration()
        self.namespace, self._fallback_user = _load(settings, configuration)
        self.host = str(configuration.host).rstrip("/")
        self.shown_host = redact_url(self.host)  # for messages: no password in a server URL
        self._configuration = configuration
        self._client = k8s_client.ApiClient(configuration)
        # The client's pool carries TLS (CA, client certs), proxies and retries from the
        # configuration; requests go straight to it (see `_auth_headers` for why).
        self._pool: urllib3.PoolManager = self._client.rest_client.pool_manager

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]

    @functools.cached_property
    def user(self) -> str:
        """Who is acting, for the audit annotations, asked once (when first needed).

        The API server's own answer (a SelfSubjectReview, authentication.k8s.io/v1, Kubernetes
        1.28+, allowed to every authenticated user without RBAC); on any error, the kubeconfig
        context's user or, in a pod, the ServiceAccount (else $USER).
        """
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        try:
            review = self._request(
                "create",
                "authentication.k8s.io/selfsubjectreviews",
                "POST",
                _path("authentication.k8s.io/selfsubjectreviews", None),
                body=body,
                timeout=min(5.0, self.settings.request_timeout),
            )
            name = review["status"]["userInfo"]["username"]
        except (CronctlError, KeyError, TypeError) as e:
            log.debug("no SelfSubjectReview (%s): using %s", e, self._fallback_user)
            return self._fallback_user
        return str(name) if name else self._fallback_user

    def can(self, verb: str, resource: str, namespace: str) -> bool | None:
        """May the current user `verb` `resource` ("batch/cronjobs", "batch/cronjobs/status")
        in `namespace`? One SelfSubjectAccessReview (authorization.k8s.io/v1, allowed to every
        authenticated user without RBAC). None when the review itself fails: unknown."""
        group, _, plural = resource.partition("/")
        plural, _, sub = plural.partition("/")
        attributes = {"namespace": namespace, "verb": verb, "group": group, "resource": plural}
        if sub:
            attributes["subresource"] = sub
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        }
        try:
            review = self._request(
                "create",
                "authorization.k8s.io/selfsubjectaccessreviews",
                "POST",
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                body=body,
                timeout=min(5.0, self.settings.request_timeout),
            )
            return bool(review["status"]["allowed"])
        except (CronctlError, KeyError, TypeError) as e:
            log.debug("no SelfSubjectAccessReview (%s): the API server decides", e)
            return None

    # -- the choke point -----------------------------------------------------------------------

    def _request(
        self,
        verb: str,
        resource: str,
        method: str,
        path: str,
        *,
        namespace: str | None = None,
        name: str | None = None,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        stream: bool = False,
        timeout: float | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON (or the raw response when `stream`).

        `verb` and `resource` ("batch/cronjobs", "/pods/log") name the RBAC permission the call
        needs, so a 403 says exactly which rule is missing.
        """
        headers = {
            **self._client.default_headers,
            "Accept": "application/json",
            "Content-Type": content_type,
            "User-Agent": f"{self.settings.field_manager}/{__version__}",
        }
        if method in ("POST", "PATCH", "PUT"):  # writes: managedFields name cronctl
            query = [*(query or []), ("fieldManager", self.settings.field_manager)]
        url = self.host + path + (f"?{urlencode(query)}" if query else "")
        read_timeout = timeout or self.settings.request_timeout
        try:
            headers.update(self._auth_headers())
            response = self._pool.request(
                method,
                url,
                body=json.dumps(body) if body is not None else None,
                headers=headers,
                timeout=urllib3.Timeout(connect=min(10.0, read_timeout), read=read_timeout),
                retries=_RETRIES,
                preload_content=False,
            )
            if 300 <= response.status < 400:  # an API server never redirects: a proxy's login
                response.release_conn()
                raise ApiError(_not_an_api_server(self.shown_host, response), response.status)
            if response.status >= 400:
                raw = response.read()
                response.release_conn()
                raise _translate(response.status, raw, verb, resource, namespace, name)
            if stream:
                return response
            try:
                return json.loads(response.read() or b"null")
            except ValueError:
                raise ApiError(
                    _not_an_api_server(self.shown_host, response), response.status
                ) from None
            finally:
                response.release_conn()
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise _unreachable_error(self.shown_host, e) from e

    def _auth_headers(self) -> dict[str, str]:
        """The bearer token (refreshed by the client's hook, e.g. for exec plugins), if any.

        `Configuration.auth_settings()` and `RESTClientObject.pool_manager` are the two client
        internals cronctl relies on; both are the same in kubernetes 29 to 37 (whose
        `ApiClient.call_api` signature is not).
        """
        settings: dict[str, Any] = dict(self._configuration.auth_settings())
        return {
            str(s["key"]): str(s["value"])
            for s in settings.values()
            if s.get("in") == "header" and s.get("value")
        }

    # -- resources ------------------------------------------------------------------------------

    def list_versioned(
        self,
        resource: str,
        namespace: str | None,
        selector: str | None = None,
        field_selector: str | None = None,
        keep: Callable[[Obj], Obj] | None = None,
    ) -> tuple[list[Obj], str | None]:
        """`list`, and the list's resourceVersion: a watch from it misses no change."""
        path = _path(resource, namespace)
        items: list[Obj] = []
        version: str | None = None
        token: str | None = None
        restarted = False
        while True:
            query = [("labelSelector", selector)] if selector else []
            if field_selector:
                query.append(("fieldSelector", field_selector))
            query.append(("limit", str(PAGE_SIZE)))
            if token:
                query.append(("continue", token))
            try:
                page = self._request(
                    "list", resource, "GET", path, namespace=namespace, query=query
                )
            except ApiError as e:
                if e.status != 410 or not token or restarted:
                    raise
                log.debug("the list of %s expired while paging: starting over", resource)
                items, token, restarted = [], None, True
                continue
            page_items = page.get("items") or []
            # `keep` slims each item as its page arrives, so a long list never holds every
            # object whole at once (the keeper needs a Job's status, not its pod template).
            items.extend(map(keep, page_items) if keep else page_items)
            meta = page.get("metadata") or {}
            version = str(meta.get("resourceVersion") or "") or version
            token = meta.get("continue") or None
            if not token:
                return items, version

    def list(
        self,
        resource: str,
        namespace: str | None,
        selector: str | None = None,
        field_selector: str | None = None,
        keep: Callable[[Obj], Obj] | None = None,
    ) -> list[Obj]:
        """List `batch/cronjobs`, `batch/jobs`, `/pods` or `/events` in a namespace (None: all
        namespaces), by label and field selector.

        Pages of PAGE_SIZE items (`limit`/`continue`), so a large cluster costs a few requests
        of bounded size; when a continue token expires (410 Gone), starts over once.
        """
        return self.list_versioned(resource, namespace, selector, field_selector, keep)[0]

    def watch(
        self,
        resource: str,
        namespace: str | None,
        version: str,
        selector: str | None = None,
        *,
        seconds: int = 300,
    ) -> Any:
        """One watch request from resourceVersion `version`, with bookmarks, lasting at most
        `seconds` (the server's timeoutSeconds): the raw response, whose body is one JSON event
        per line (read it with `watch_events`). 410 Gone (the version is too old) is an
        ApiError with status 410, here or as an ERROR event."""
        query = [
            ("watch", "1"),
            ("resourceVersion", version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(seconds)),
        ]
        if selector:
            query.append(("labelSelector", selector))
        return self._request(
            "watch",
            resource,
            "GET",
            _path(resource, namespace),
            namespace=namespace,
            query=query,
            stream=True,
            timeout=seconds + 30,  # bookmarks come about once a minute
        )

    def get(self, resource: str, namespace: str, name: str) -> Obj:
        path = _path(resource, namespace, name)
        return dict(self._request("get", resource, "GET", path, namespace=namespace, name=name))

    def merge_patch(
        self, resource: str, namespace: str, name: str, patch: Obj, subresource: str = ""
    ) -> Obj:
        """A JSON merge patch (of `subresource`, e.g. "status", if given). A `resourceVersion`
        in the patch's metadata makes it conditional: 409 Conflict if the object changed."""
        path = _path(resource, namespace, name) + (f"/{subresource}" if subresource else "")
        return dict(
            self._request(
                "patch",
                f"{resource}/{subresource}" if subresource else resource,
                "PATCH",
                path,
                namespace=namespace,
                name=name,
                body=patch,
                content_type=MERGE_PATCH,
            )
        )

    def create(self, resource: str, namespace: str, body: Obj) -> Obj:
        name = body.get("metadata", {}).get("name")
        path = _path(resource, namespace)
        return dict(
            self._request(
                "create", resource, "POST", path, namespace=namespace, name=name, body=body
            )
        )

    def delete(self, resource: str, namespace: str, name: str) -> Obj:
        path = _path(resource, namespace, name)
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        return dict(
            self._request(
                "delete", resource, "DELETE", path, namespace=namespace, name=name, body=body
            )
        )

    def pod_log(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        follow: bool = False,
        timeout: float | None = None,
    ) -> Iterator[str]:
        """The pod's log, line by line (streamed as it comes when `follow`); none for a pod not
        yet on a node (the API server answers 204 with an empty body).

        When following, a read that waits longer than `timeout` (a silent pod) ends the stream
        quietly, without its unfinished last line: the caller polls the Job and may follow again.
        """
        query = [("follow", "true")] if follow else []
        if container:
            query.append(("container", container))
        path = _path("/pods", namespace, pod) + "/log"
        response = self._request(
            "get",
            "/pods/log",
            "GET",
            path,
            namespace=namespace,
            name=pod,
            query=query,
            stream=True,
            timeout=timeout,
        )
        if response.status == 204:  # a pod not yet on a node: no kubelet to ask, no log yet
            response.release_conn()
            return
        buffer = b""
        try:
            for chunk in response.stream(4096):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", "replace")
            if buffer:
                yield buffer.decode("utf-8", "replace")
        except urllib3.exceptions.ReadTimeoutError as e:
            if not follow:
                raise _unreachable_error(self.shown_host, e) from e
            log.debug("no log line from pod %s for %ss: polling again", pod, timeout)
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise _unreachable_error(self.shown_host, e) from e
        finally:
            response.close()  # a followed stream left early must not go back to the pool
            response.release_conn()


# -- helpers ------------------------------------------------------------------------------------

_KINDS = {
    "batch/cronjobs": "CronJob",
    "batch/cronjobs/status": "CronJob",
    "batch/jobs": "Job",
    "/pods": "Pod",
    "/pods/log": "Pod",
    "/events": "Event",
}


def watch_events(response: Any) -> Iterator[bytes]:
    """The lines of a watch response's body, one JSON event each, as they arrive."""
    buffer = b""
    for chunk in response.stream(65536):
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        yield from (line for line in lines if line.strip())
    if buffer.strip():
        yield buffer


def _path(resource: str, namespace: str | None, name: str | None = None) -> str:
    group, _, plural = resource.rpartition("/")
    base = f"/apis/{group}/v1" if group else "/api/v1"
    if namespace:
        base += f"/namespaces/{quote(namespace, safe='')}"
    base += f"/{plural}"
    return base + (f"/{quote(name, safe='')}" if name else "")


def _translate(
    status: int,
    raw: bytes | str | None,
    verb: str,
    resource: str,
    namespace: str | None,
    name: str | None,
) -> CronctlError:
    try:
        detail = str(json.loads(raw or b"{}").get("message") or "")
    except (ValueError, AttributeError):
        detail = (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw or "")[:300]
    kind = _KINDS.get(resource, resource)
    if status == 404 and name:
        return NotFound(kind, name, namespace)
    if status == 403:
        return Forbidden(verb, resource, namespace, detail)
    if status == 409:
        what = f'{kind} "{name}"' if name else kind
        return Conflict(f"conflict on {what}: {detail or 'it changed or already exists'}")
    if status == 410:
        return ApiError(
            f"the list of {kind}s changed too much while cronctl paged through it (410 Gone): "
            "run the command again",
            status,
        )
    if status == 401:
        return ApiError(
            "the API server rejected the credentials (401 Unauthorized): renew them "
            "(log in again) or check --kubeconfig/--context",
            status,
        )
    return ApiError(f"the API server refused to {verb} {kind}: {status} {detail}".strip(), status)


# Connection errors are retried (twice); a read that timed out is not, so --request-timeout
# bounds each call (urllib3's default, 3 retries of everything, waited up to 4 times as long).
_RETRIES = urllib3.Retry(total=2, read=0, redirect=False, status=0)  # a 3xx comes back as is


def _unreachable_error(host: str, e: BaseException) -> CronctlError:
    """A network error as cronctl's: a server certificate that is not trusted is the
    kubeconfig's to fix (exit 2), anything else an unreachable server."""
    reason = " ".join(str(getattr(e, "reason", None) or e).split())
    if "CERTIFICATE_VERIFY_FAILED" in reason or "certificate verify failed" in reason:
        return ConfigError(
            f"the Kubernetes API at {host} has a certificate cronctl does not trust ({reason}): "
            "give the cluster's CA in the kubeconfig (certificate-authority or "
            "certificate-authority-data), or check --kubeconfig/--context"
        )
    return Unreachable(
        f"cannot reach the Kubernetes API at {host} ({reason}): check that the cluster is up, "
        "your network/VPN, and --kubeconfig/--context"
    )


def _not_an_api_server(host: str, response: Any) -> str:
    kind = response.headers.get("Content-Type") or "no Content-Type"
    if location := response.headers.get("Location"):
        kind += f", to {redact_url(str(location))}"
    what = "redirected" if 300 <= response.status < 400 else "did not answer with JSON"
    return (
        f"the server at {host} {what} ({response.status}, {kind}): is it a Kubernetes API "
        "server, not a proxy or a login page? Check --kubeconfig/--context"
    )


def _load(settings: ClientSettings, configuration: Any) -> tuple[str, str]:
    """Fill `configuration`; return (default namespace, user name for audit annotations)."""
    fallback_user = os.environ.get("USER") or login_name() or "unknown"
    in_cluster = os.environ.get("KUBERNETES_SERVICE_HOST")
    # Like kubectl (and the CLI's --kubeconfig envvar): $KUBECONFIG unless a path is given.
    kubeconfig = settings.kubeconfig or os.environ.get("KUBECONFIG") or None
    if in_cluster and not kubeconfig and not settings.context:
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except ConfigException as e:
            raise ConfigError(f"cannot load the in-cluster configuration: {e}") from e
        ns_file = SA_DIR / "namespace"
        namespace = ns_file.read_text().strip() if ns_file.exists() else "default"
        return namespace, service_account(SA_DIR / "token") or fallback_user
    paths = kubeconfig or str(Path("~/.kube/config").expanduser())
    existing = [p for p in paths.split(os.pathsep) if p and Path(p).expanduser().is_file()]
    if not existing:
        raise ConfigError(
            f"no cluster configured: no kubeconfig at {paths} and not running in a pod. "
            "Pass --kubeconfig (or set KUBECONFIG) and --context, or run cronctl in-cluster"
        )
    config_file = os.pathsep.join(existing)
    try:
        contexts, active = k8s_config.list_kube_config_contexts(config_file)  # type: ignore[no-untyped-call]
        if settings.context:
            matches = [c for c in contexts if c.get("name") == settings.context]
            if not matches:
                names = ", ".join(sorted(str(c.get("name")) for c in contexts)) or "none"
                raise ConfigError(
                    f'context "{settings.context}" not found in {config_file} '
                    f"(contexts: {names}): pass one of them to --context"
                )
            active = matches[0]
        with credential_errors() as failed:
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=config_file,
                context=settings.context,
                client_configuration=configuration,
                persist_config=False,
            )
    except (ConfigException, yaml.YAMLError, OSError) as e:
        raise ConfigError(f"cannot use kubeconfig {config_file}: {one_line(e)}") from e
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as e:
        raise ConfigError(
            f"cannot use kubeconfig {config_file}: it is not a valid kubeconfig ({one_line(e)}): "
            "expected a YAML mapping with clusters, contexts and users, as kubectl writes it"
        ) from e
    if failed:  # the client logs a failing exec plugin and carries on without credentials
        raise ConfigError(
            f"cannot use kubeconfig {config_file}: its credentials failed to load "
            f"({'; '.join(failed)}): run the user's exec plugin yourself to see why, or log in "
            "again"
        )
    check_server(str(configuration.host), config_file)
    if configuration.verify_ssl is False:
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        log.warning("TLS verification is off for %s (insecure-skip-tls-verify)", config_file)
    ctx = (active or {}).get("context") or {}
    return str(ctx.get("namespace") or "default"), str(ctx.get("user") or fallback_user)
