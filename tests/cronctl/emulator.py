"""kmock's KubernetesEmulator, extended where cronctl's behaviour depends on the API server.

No real API server can run here (no container engine, no kube-apiserver in any registry), so the
tests use kmock's emulator over real HTTP on loopback with the official client and the real
kubectl. `CronctlEmulator` closes the gaps that matter (listed below); each
extension says why it exists. A background thread with its own event loop serves it, so the
synchronous client and subprocesses (kubectl) can call it.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime
import itertools
import json
import logging
import re
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager, nullcontext
from typing import Any

import aiohttp.web
import attrs
import kmock
import yaml
from kmock._internal import dicts, enums, references, rendering

from tests.cronctl import managed_fields
from tests.cronctl.watch_log import Watch, WatchLog, stream

VERBS = {
    enums.action.LIST: "list",
    enums.action.FETCH: "get",
    enums.action.WATCH: "watch",
    enums.action.CREATE: "create",
    enums.action.UPDATE: "patch",
    enums.action.DELETE: "delete",
}
_counter = itertools.count(1000)
APPLY_PATCH = "application/apply-patch+yaml"
OWNED = {"cronjobs"}
"""Resources whose field ownership (metadata.managedFields) the emulator keeps: the ones cronctl
and Helm both write. See tests/cronctl/managed_fields.py."""


def _term(term: str) -> tuple[str, str, set[str]]:
    """One selector term as (key, op, values); ops: =, !=, in, notin, exists, !exists."""
    term = term.strip()
    if m := re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", term):
        return m[1], m[2], {v.strip() for v in m[3].split(",") if v.strip()}
    if m := re.fullmatch(r"([\w./-]+)\s*(!=|==|=)\s*([\w./-]*)", term):
        return m[1], "!=" if m[2] == "!=" else "=", {m[3]}
    if term.startswith("!"):
        return term[1:].strip(), "!exists", set()
    return term, "exists", set()


def selector_matches(selector: str, labels: dict[str, str]) -> bool:
    """Equality- and set-based label selectors, as the API server evaluates them."""
    terms = [t for t in re.split(r",(?![^()]*\))", selector) if t.strip()]
    for key, op, values in map(_term, terms):
        value = labels.get(key)
        ok = {
            "=": value in values,
            "!=": value not in values,
            "in": value in values,
            "notin": value not in values,
            "exists": key in labels,
            "!exists": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def status(code: int, reason: str, message: str) -> aiohttp.web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return aiohttp.web.json_response(body, status=code)


@attrs.frozen
class Outcome:
    """How a Job created in the emulator runs: its result, its pod's log, and its pace."""

    result: str = "Succeeded"
    log: str = ""
    gets: int = 2
    """The Job finishes on the `gets`-th GET of it (polls by `trigger --wait`)."""
    pause: float = 0.0
    """A followed log (follow=true) is served line by line, `pause` seconds apart, as kubelet
    streams a running container's output; without follow, all at once."""
    exit_code: int | None = None
    """The container's exit code (default: 0 if Succeeded, else 1), reported by the kubelet in
    the pod's status.containerStatuses[0].state.terminated, as on a real node."""
    message: str = ""
    """The termination message the kubelet copies from terminationMessagePath."""


@attrs.define(kw_only=True)
class CronctlEmulator(kmock.KubernetesEmulator):
    """The emulator plus: selectors, object metadata, conflicts, 403s, pod logs, a call count."""

    calls: list[tuple[str, str]] = attrs.field(factory=list)
    """Every request (method, path?query): the bounded-calls test and the bench count these."""
    forbidden: set[tuple[str, str]] = attrs.field(factory=set)
    """(verb, "group/resource") pairs answered 403 like the API server's RBAC, for the tests of
    the Forbidden message."""
    privileged: set[str] = attrs.field(factory=set)
    """Clients (the User-Agent's product, e.g. "cronctl-keeper") that `forbidden` does not
    apply to: a ServiceAccount with a Role of its own, beside an operator who lacks the right."""
    pod_logs: dict[tuple[str, str], str] = attrs.field(factory=dict)
    """(namespace, pod) -> log text: kmock has no pods/log subresource."""
    log_pauses: dict[tuple[str, str], float] = attrs.field(factory=dict)
    """(namespace, pod) -> seconds between lines of a followed log (see Outcome.pause)."""
    job_outcomes: dict[str, Outcome] = attrs.field(factory=dict)
    """namespace -> Outcome: Jobs created there "run" (a stand-in for the Job controller, which
    does not exist here): at once a running pod with the outcome's log, and the Job finishes
    after `Outcome.gets` GETs of it, so `--wait` has to poll."""
    unauthorized: bool = False
    """Answer every request 401, as for an expired or revoked token."""
    identity: str | None = None
    """The user a SelfSubjectReview reports (Kubernetes 1.28+); None: 404, as an older API
    server answers (kmock has no such endpoint). Tests of the audit identity set it."""
    expire_continue: int = 0
    """Answer this many more requests that carry a `continue` token with 410 Gone."""
    running: dict[tuple[str, str], int] = attrs.field(factory=dict)
    """(namespace, Job) -> GETs left until that running Job finishes."""
    access_reviews: bool = True
    """Answer SelfSubjectAccessReviews (False: 404, as a server without that API)."""
    before_patch: Callable[[], None] | None = None
    """Called once, on the emulator's loop, just before the next PATCH is applied: a test
    stands in for another client changing the object between cronctl's read and its patch."""
    clients: list[tuple[str, str, str, str | None]] = attrs.field(factory=list)
    """Every request's (method, path, User-Agent, fieldManager): who the audit log would name."""
    watch_log: WatchLog = attrs.field(factory=WatchLog)
    """Every change, for watches (see watch_log.py): `watch_log.window` changes are kept;
    `watch_log.compact()` forgets them all (a watch from before is then 410 Gone);
    `watch_log.drop()` ends every open watch stream."""
    bookmark_seconds: float = 60.0
    """How often a watch with allowWatchBookmarks gets a BOOKMARK (the API server: about a
    minute)."""
    watch_timeout: float = 1800.0
    """A watch without timeoutSeconds ends after this long (the API server: 30 to 60 minutes)."""
    _writes: asyncio.Lock = attrs.field(factory=asyncio.Lock, init=False)
    """Held by every write from its resourceVersion (and, for a PATCH, its check) to its
    store: etcd's compare-and-swap is one step, so two patches naming the same version never
    both pass (kmock applies a patch after awaiting its own lock, by when a check made outside
    this one may be stale), and resourceVersions reach the watch log in the order they were
    given, as etcd's revisions do."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # kmock announces each create, patch and delete it stores on a per-resource bus, in
        # the order it stores them: the watch log listens there.
        self._buses = _Recorder(self)  # type: ignore[assignment]

    def record(self, resource: Any, kind: str, obj: dict[str, Any]) -> None:
        """Log a change for watches; a deletion gets a resourceVersion of its own."""
        if kind == "DELETED":
            obj = copy.deepcopy(dict(obj))
            obj.setdefault("metadata", {})["resourceVersion"] = str(next(_counter))
        rv = int((obj.get("metadata") or {}).get("resourceVersion") or 0)
        self.watch_log.record(_resource_key(resource), kind, obj, rv)

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        query = f"?{request.url.query_string}" if request.url.query_string else ""
        self.calls.append((str(request.method.value), request.url.path + query))
        self.clients.append(
            (
                str(request.method.value),
                request.url.path,
                _header(request, "User-Agent"),
                request.params.get("fieldManager"),
            )
        )
        writing = request.action in (
            enums.action.CREATE,
            enums.action.UPDATE,
            enums.action.DELETE,
        ) or (
            request.action == enums.action.FETCH
            and (request.namespace or "", request.name or "") in self.running
        )  # a GET of a running Job may finish it (see _finish_job)
        if _watching(request):
            writing = False
        guard: AbstractAsyncContextManager[Any] = self._writes if writing else nullcontext()
        async with guard:
            return await self._serve(request)

    async def _serve(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        # kubectl sends protobuf bodies on create; the API server answers 415 to content it
        # cannot decode, and kubectl then falls back to JSON (kmock itself would answer 500).
        if "protobuf" in request.headers.get("Content-Type", ""):
            return aiohttp.web.Response(status=415, text="protobuf not supported")
        # Authentication fails before anything else, as on the API server.
        if self.unauthorized:
            return status(401, "Unauthorized", "Unauthorized")
        if request.url.path == "/apis/authentication.k8s.io/v1/selfsubjectreviews":
            return self._review(request)
        if request.url.path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
            return await self._access_review(request)
        if request.resource is None or request.action is None:
            return await super()._handle(request)
        res = request.resource
        plural = f"{res.plural}/{request.subresource}" if request.subresource else res.plural
        verb = "watch" if _watching(request) else VERBS.get(request.action, str(request.action))
        # RBAC: 403 with the API server's wording, so the Forbidden translation is exercised.
        if (verb, f"{res.group}/{plural}") in self.forbidden and not self._privileged(request):
            group = f'in API group "{res.group}"'
            scope = (
                f'in the namespace "{request.namespace}"'
                if request.namespace
                else "at the cluster scope"
            )
            return status(
                403,
                "Forbidden",
                f"{plural}{'.' + res.group if res.group else ''} is "
                f'forbidden: User "tester" cannot {verb} resource "{plural}" '
                f"{group} {scope}",
            )
        # A continue token expires when etcd compacts past its revision: 410 Gone.
        if request.params.get("continue") and self.expire_continue > 0:
            self.expire_continue -= 1
            return status(410, "Expired", "The provided continue parameter is too old")
        if res.plural == "pods" and request.subresource == "log":
            return await self._serve_log(request)
        if _watching(request) and request.name is None:
            return await self._serve_watch_log(request)
        job_key = (request.namespace or "", request.name or "")
        if request.action == enums.action.FETCH and job_key in self.running:
            self.running[job_key] -= 1
            if self.running[job_key] <= 0:
                self._finish_job(*job_key)
        if request.action == enums.action.UPDATE and _header(request, "Content-Type").startswith(
            APPLY_PATCH
        ):
            return self._apply(request)
        if request.action == enums.action.CREATE and isinstance(request.data, dict):
            self._fill_metadata(request)
            self._own(request, None)
        if request.action == enums.action.UPDATE and isinstance(request.data, dict):
            if self.before_patch is not None:
                hook, self.before_patch = self.before_patch, None
                hook()
            if refused := self._precondition(request):
                return refused
            if request.subresource == "status":
                # Emulates the status subresource: only `status` is written (kmock patches the
                # whole object, whatever the subresource).
                for key in [k for k in request.data if k != "status"]:
                    del request.data[key]
            key = (res, request.namespace, request.name)
            if key in self.objects and not self.objects[key].deleted:
                self._own(request, dict(self.objects[key].raw))
            request.data.setdefault("metadata", {})["resourceVersion"] = str(next(_counter))
        response = await super()._handle(request)
        if (
            request.action == enums.action.CREATE
            and res.plural == "jobs"
            and request.namespace in self.job_outcomes
            and response.status < 300
        ):
            self._run_job(request)
        return response

    def _precondition(self, request: rendering.Request) -> aiohttp.web.Response | None:
        """Emulates the API server's optimistic concurrency: a patch that names a
        `metadata.resourceVersion` applies only to that version, else 409 Conflict (kmock
        applies every patch). cronctl's suspend/resume rely on it not to lose a concurrent
        change to the history annotation."""
        wanted = (request.data.get("metadata") or {}).get("resourceVersion")
        assert request.resource is not None
        key = (request.resource, request.namespace, request.name)
        if wanted is None or key not in self.objects:
            return None
        current = (self.objects[key].get("metadata") or {}).get("resourceVersion")
        if current is not None and str(current) != str(wanted):
            return status(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {request.resource.plural} "{request.name}": '
                "the object has been modified; please apply your changes to the latest version "
                "and try again",
            )
        return None

    def _own(self, request: rendering.Request, before: dict[str, Any] | None) -> None:
        """Emulates the field manager for an Update (a create or a non-apply patch): the
        request's manager takes the fields it changes, written into the request's
        metadata.managedFields so that kmock stores them with the change. See managed_fields."""
        assert request.resource is not None
        if request.resource.plural not in OWNED:
            return
        sub = request.subresource or ""
        before = copy.deepcopy(before)
        after = (
            dict(dicts.patch_dict(before, request.data))
            if before is not None
            else copy.deepcopy(request.data)
        )
        spec = after.get("spec")
        if sub != "status" and isinstance(spec, dict) and spec.get("suspend") is None:
            spec["suspend"] = False  # the API server's default for a CronJob
            request.data.setdefault("spec", {})["suspend"] = False
        owners, times = managed_fields.read(before)
        manager = _manager(request)
        owners = managed_fields.after_update(owners, manager, sub, before, after)
        fields = managed_fields.entries(
            owners, times, _api_version(request), _now(), (manager, "Update", sub)
        )
        request.data.setdefault("metadata", {})["managedFields"] = fields

    def _apply(self, request: rendering.Request) -> aiohttp.web.Response:
        """Emulates server-side apply (PATCH application/apply-patch+yaml, as Helm 4 and
        `kubectl apply --server-side` send it; kmock would merge it as a plain patch): the
        manager owns what it applies, a change to a field another manager owns is the real
        409 Conflict unless force=true, and a field it no longer applies is removed unless
        another manager owns it. Creates the object if absent. See managed_fields."""
        assert request.resource is not None
        manager = request.params.get("fieldManager")
        if not manager:
            return status(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                "required for apply patch",
            )
        config = yaml.safe_load(request.body or b"{}") or {}
        key = (request.resource, request.namespace, request.name)
        exists = key in self.objects and not self.objects[key].deleted
        live = copy.deepcopy(dict(self.objects[key].raw)) if exists else None
        owners, times = managed_fields.read(live)
        force = request.params.get("force") == "true"
        api_version = _api_version(request)
        obj, owners, conflicts = managed_fields.apply(live, config, owners, manager, force)
        if conflicts:
            body = {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": managed_fields.conflict_message(conflicts, api_version),
                "reason": "Conflict",
                "details": {"causes": managed_fields.conflict_causes(conflicts, api_version)},
                "code": 409,
            }
            return aiohttp.web.json_response(body, status=409)
        if request.resource.plural == "cronjobs":
            obj.setdefault("spec", {}).setdefault("suspend", False)  # the server's default
        meta = obj.setdefault("metadata", {})
        meta.update(name=request.name, namespace=request.namespace)
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _now())
        meta["resourceVersion"] = str(next(_counter))
        meta["managedFields"] = managed_fields.entries(
            owners, times, api_version, _now(), (manager, "Apply", "")
        )
        self.objects[key] = obj
        self.record(request.resource, "MODIFIED" if exists else "ADDED", obj)
        return aiohttp.web.json_response(obj, status=200 if exists else 201)

    def _fill_metadata(self, request: rendering.Request) -> None:
        """The API server sets uid, resourceVersion, creationTimestamp and the namespace; owner
        references join Jobs to CronJobs by uid, so these must exist."""
        meta = request.data.setdefault("metadata", {})
        meta.setdefault("namespace", request.namespace)
        meta["uid"] = str(uuid.uuid4())
        meta["resourceVersion"] = str(next(_counter))
        meta.setdefault("creationTimestamp", _now())

    def _review(self, request: rendering.Request) -> aiohttp.web.Response:
        if request.method.value != "POST" or self.identity is None:
            return status(404, "NotFound", "the server could not find the requested resource")
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "SelfSubjectReview",
            "metadata": {"creationTimestamp": None},
            "status": {"userInfo": {"username": self.identity, "groups": ["system:authenticated"]}},
        }
        return aiohttp.web.json_response(body, status=201)

    async def _access_review(self, request: rendering.Request) -> aiohttp.web.Response:
        """Emulates the API server's SelfSubjectAccessReview (authorization.k8s.io/v1): status
        .allowed is false exactly for the (verb, "group/resource[/subresource]") pairs in
        `forbidden`, the same set the emulated RBAC answers 403 for. `access_reviews`: None
        answers 404, as a server without the API (cronctl then lets the API server decide)."""
        if not self.access_reviews:
            return status(404, "NotFound", "the server could not find the requested resource")
        assert request._raw_request is not None
        body = await request._raw_request.json()
        attrs_ = body["spec"]["resourceAttributes"]
        resource = attrs_["resource"] + (
            f"/{attrs_['subresource']}" if attrs_.get("subresource") else ""
        )
        allowed = self._privileged(request) or (
            (attrs_["verb"], f"{attrs_.get('group', '')}/{resource}") not in self.forbidden
        )
        body["status"] = {"allowed": allowed}
        return aiohttp.web.json_response(body, status=201)

    async def _serve_log(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        key = (request.namespace or "", request.name or "")
        pod = (request.resource, request.namespace, request.name)
        if (
            pod in self.objects
            and not self.objects[pod].deleted
            and not (self.objects[pod].get("spec") or {}).get("nodeName")
        ):
            # A pod not yet bound to a node has no kubelet to ask: the API server answers 204
            # with an empty body (seen on v1.28), not an error.
            return aiohttp.web.Response(status=204)
        if key not in self.pod_logs:
            return status(404, "NotFound", f'pods "{request.name}" not found')
        text = self.pod_logs[key]
        pause = self.log_pauses.get(key, 0.0)
        if request.params.get("follow") != "true" or not pause:
            return aiohttp.web.Response(text=text, content_type="text/plain")
        assert request._raw_request is not None
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request._raw_request)
        try:
            for line in text.splitlines(keepends=True):
                await response.write(line.encode())
                await asyncio.sleep(pause)
            await response.write_eof()
        except ConnectionError:
            pass  # the client stopped following
        return response

    def _run_job(self, request: rendering.Request) -> None:
        """Start the Job: status active, one running pod with the outcome's log."""
        ns, name = request.namespace or "", request.data["metadata"]["name"]
        outcome = self.job_outcomes[ns]
        now = _now()
        self._change("batch/v1/jobs", ns, name, {"status": {"startTime": now, "active": 1}})
        pod = f"{name}-x7k2p"
        self.objects["v1/pods", ns, pod] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod,
                "namespace": ns,
                "creationTimestamp": now,
                "uid": str(uuid.uuid4()),
                # The Job controller copies the pod template's labels and adds its own.
                "labels": {
                    **(
                        (
                            request.data.get("spec", {}).get("template", {}).get("metadata") or {}
                        ).get("labels")
                        or {}
                    ),
                    "job-name": name,
                    "batch.kubernetes.io/job-name": name,
                },
            },
            "spec": {"containers": [{"name": "job"}], "nodeName": "node-1"},
            "status": {"phase": "Running"},
        }
        self._change("v1/pods", ns, pod, {})
        self.pod_logs[(ns, pod)] = outcome.log
        self.log_pauses[(ns, pod)] = outcome.pause
        self.running[(ns, name)] = outcome.gets

    def _finish_job(self, ns: str, name: str) -> None:
        del self.running[(ns, name)]
        result = self.job_outcomes[ns].result
        now = _now()
        cond = "Complete" if result == "Succeeded" else "Failed"
        st: dict[str, Any] = {
            "active": None,
            "conditions": [
                {
                    "type": cond,
                    "status": "True",
                    "lastTransitionTime": now,
                    "reason": "BackoffLimitExceeded" if cond == "Failed" else "Completed",
                    "message": "Job has reached the specified backoff limit"
                    if cond == "Failed"
                    else "",
                }
            ],
        }
        if cond == "Complete":
            st.update(succeeded=1, completionTime=now)
        else:
            st.update(failed=1)
        self._change("batch/v1/jobs", ns, name, {"status": st})
        phase = "Succeeded" if cond == "Complete" else "Failed"
        outcome = self.job_outcomes[ns]
        code = outcome.exit_code if outcome.exit_code is not None else int(phase == "Failed")
        terminated = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "finishedAt": now,
            "message": outcome.message,
        }
        container = {"name": "job", "state": {"terminated": terminated}}
        self._change(
            "v1/pods",
            ns,
            f"{name}-x7k2p",
            {"status": {"phase": phase, "containerStatuses": [container]}},
        )

    def _change(self, resource: str, ns: str, name: str, patch: dict[str, Any]) -> None:
        """What the Job controller or the kubelet would write: a new resourceVersion, logged."""
        obj = self.objects[resource, ns, name]
        obj.patch({**patch, "metadata": {"resourceVersion": str(next(_counter))}})
        self.record(resource, "MODIFIED" if patch else "ADDED", dict(obj.raw))

    async def _serve_list(self, request: rendering.Request) -> rendering.Payload:
        """Honour labelSelector (kmock ignores it) and give lists their kind/apiVersion, which
        kubectl needs to decode them. Page like the API server: items in (namespace, name) key
        order, `limit` per page, an opaque `continue` token for the rest (kmock ignores both),
        so that cronctl's paging and its bounded request count can be tested."""
        result: dict[str, Any] = dict(await super()._serve_list(request))  # type: ignore[arg-type]
        selector = request.params.get("labelSelector")
        items = result["items"]
        if selector:
            items = [
                i
                for i in items
                if selector_matches(selector, i.get("metadata", {}).get("labels") or {})
            ]
        fields = request.params.get("fieldSelector")
        if fields:
            items = [i for i in items if fields_match(fields, i)]
        items.sort(key=_key)
        token = request.params.get("continue")
        if token:
            after = tuple(json.loads(base64.b64decode(token)))
            items = [i for i in items if _key(i) > after]
        limit = int(request.params.get("limit") or 0)
        more = bool(limit) and len(items) > limit
        result["items"] = items[:limit] if limit else items
        assert request.resource is not None
        info = self.resources.get(request.resource)
        kind = info.kind if info is not None and info.kind else request.resource.plural.title()
        group = request.resource.group
        result["kind"] = f"{kind}List"
        result["apiVersion"] = f"{group}/{request.resource.version}" if group else "v1"
        # The list is as of the newest change logged: a watch from its version misses nothing.
        version = self.watch_log.last_rv or next(_counter)
        result["metadata"] = {"resourceVersion": str(version)}
        if more:
            last = json.dumps(list(_key(result["items"][-1])))
            result["metadata"]["continue"] = base64.b64encode(last.encode()).decode()
        return result

    async def _serve_watch_log(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        """A watch of a collection, from the watch log (see watch_log.py)."""
        assert request.resource is not None and request._raw_request is not None
        info = self.resources.get(request.resource)
        res = request.resource
        selector = request.params.get("labelSelector")

        def current() -> list[dict[str, Any]]:
            return [
                dict(obj.raw)
                for (r, ns, _), obj in self.objects.items()
                if _resource_key(r) == _resource_key(res)
                and not obj.deleted
                and (not request.namespace or ns == request.namespace)
                and (
                    not selector
                    or selector_matches(selector, obj.get("metadata", {}).get("labels") or {})
                )
            ]

        watch = Watch(
            resource=_resource_key(res),
            namespace=request.namespace,
            selector=selector,
            resource_version=request.params.get("resourceVersion"),
            bookmarks=request.params.get("allowWatchBookmarks") in ("1", "true"),
            timeout=float(request.params.get("timeoutSeconds") or self.watch_timeout),
            kind=info.kind if info is not None and info.kind else res.plural.title(),
            api_version=f"{res.group}/{res.version}" if res.group else str(res.version),
        )
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request._raw_request)
        try:
            await stream(
                self.watch_log,
                watch,
                current,
                response.write,
                selector_matches,
                self.bookmark_seconds,
            )
            await response.write_eof()
        except ConnectionError:
            pass  # the client went away
        return response

    def _privileged(self, request: rendering.Request) -> bool:
        return _header(request, "User-Agent").split("/")[0] in self.privileged

    @contextmanager
    def deny(self, verb: str, resource: str) -> Iterator[None]:
        self.forbidden.add((verb, resource))
        try:
            yield
        finally:
            self.forbidden.discard((verb, resource))


def fields_match(selector: str, obj: dict[str, Any]) -> bool:
    """Equality field selectors (`involvedObject.kind=CronJob,involvedObject.name=x`, `!=`),
    as the API server evaluates them for Events (kmock ignores fieldSelector)."""
    for term in selector.split(","):
        negate = "!=" in term
        path, _, want = term.partition("!=" if negate else "=")
        value: Any = obj
        for part in path.strip().lstrip("=").split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if (str(value or "") == want.lstrip("=").strip()) == negate:
            return False
    return True


class _Bus:
    """Stands in for kmock's per-resource bus: what kmock announces goes to the watch log."""

    def __init__(self, emulator: CronctlEmulator, resource: Any) -> None:
        self.emulator, self.resource = emulator, resource

    async def put(self, event: dict[str, Any]) -> None:
        self.emulator.record(self.resource, str(event["type"]), dict(event["object"]))


class _Recorder(dict[Any, _Bus]):
    def __init__(self, emulator: CronctlEmulator) -> None:
        super().__init__()
        self.emulator = emulator

    def __missing__(self, resource: Any) -> _Bus:
        self[resource] = bus = _Bus(self.emulator, resource)
        return bus


def _watching(request: rendering.Request) -> bool:
    return request.method.value == "GET" and request.params.get("watch") in ("1", "true")


def _resource_key(resource: Any) -> str:
    """ "batch/v1/jobs", "v1/pods": one spelling for kmock's resources and the strings tests use."""
    r = references.resource(resource) if isinstance(resource, str) else resource
    return f"{r.group}/{r.version}/{r.plural}" if r.group else f"{r.version}/{r.plural}"


def _header(request: rendering.Request, name: str) -> str:
    return next((v for k, v in request.headers.items() if k.lower() == name.lower()), "")


def _manager(request: rendering.Request) -> str:
    """The request's field manager: `fieldManager`, else the User-Agent's first part, as the
    API server derives it (the official Python client's: "OpenAPI-Generator")."""
    return request.params.get("fieldManager") or _header(request, "User-Agent").split("/")[0]


def _api_version(request: rendering.Request) -> str:
    assert request.resource is not None
    group, version = request.resource.group, request.resource.version
    return f"{group}/{version}" if group else str(version)


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata", {})
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EmulatorThread:
    """Serve a CronctlEmulator on 127.0.0.1 from a background thread with its own event loop."""

    def __init__(self) -> None:
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # keep stderr for cronctl
        self.emulator = CronctlEmulator()
        with warnings.catch_warnings():  # kmock uses the deprecated importlib.resources API
            warnings.simplefilter("ignore", DeprecationWarning)
            self.emulator.resources.load_bundled()  # discovery, for kubectl
        self.port = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="kmock", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            # An unclosed loop leaves its self-pipe sockets to the garbage collector; their
            # ResourceWarning can fire inside an ast.parse and trip CPython 3.11's "AST
            # constructor recursion depth mismatch" bug (fixed in 3.11.8).
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with self.emulator, kmock.Server(self.emulator) as server:
            self.port = server.port
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> EmulatorThread:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the emulator did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def put(self, resource: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Store an object directly (as the API server would after a create), on the emulator's
        loop; much faster than HTTP for seeding thousands of objects."""

        async def store() -> dict[str, Any]:
            async with self.emulator._writes:
                meta = obj.setdefault("metadata", {})
                meta["namespace"] = namespace
                meta.setdefault("uid", str(uuid.uuid4()))
                meta["resourceVersion"] = str(next(_counter))
                meta.setdefault("creationTimestamp", _now())
                key = (resource, namespace, meta["name"])
                exists = key in self.emulator.objects and not self.emulator.objects[key].deleted
                self.emulator.objects[key] = obj
                self.emulator.record(resource, "MODIFIED" if exists else "ADDED", obj)
                return obj

        return asyncio.run_coroutine_threadsafe(store(), self._loop).result(10)

    def call(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> Any:
        """A plain HTTP request to the emulator, to seed objects (not counted by tests)."""
        import urllib.request

        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": content_type}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def kubeconfig(self, namespace: str, user: str = "tester") -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "emulator",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": user, "user": {"token": "test-token"}}],
            "contexts": [
                {
                    "name": "emulator",
                    "context": {"cluster": "emulator", "user": user, "namespace": namespace},
                }
            ],
        }


@attrs.frozen
class History:
    """What the CronJob controller leaves behind: Jobs, Events and status (see `simulate`)."""

    jobs: list[dict[str, Any]]
    events: list[dict[str, Any]]
    last_schedule: datetime.datetime | None


def simulate_controller(
    cronjob: dict[str, Any],
    now: datetime.datetime,
    *,
    run_for: datetime.timedelta = datetime.timedelta(seconds=40),
    long_runs: dict[datetime.datetime, datetime.timedelta] | None = None,
    failed: set[datetime.datetime] | None = None,
    suspended: list[tuple[datetime.datetime, datetime.datetime | None]] = (),  # type: ignore[assignment]
    down: list[tuple[datetime.datetime, datetime.datetime]] = (),  # type: ignore[assignment]
    event_ttl: datetime.timedelta = datetime.timedelta(hours=1),
) -> History:
    """An emulation of the real CronJob controller (pkg/controller/cronjob, syncCronJob and
    mostRecentScheduleTime) over a CronJob's past, since no kube-controller-manager runs here.

    It syncs at every tick, when a Job it owns finishes, and when a suspension or an outage
    (`down`: the controller not running) ends. A sync does nothing while suspended; otherwise it
    takes the most recent unmet tick since lastScheduleTime (or the creation), clamped to
    `now - startingDeadlineSeconds`, so older ticks are dropped without an event; warns
    TooManyMissedTimes past 100 unmet ticks; under Forbid, skips with JobAlreadyActive while a
    Job runs (the skipped tick starts when that Job ends, if still due); else creates
    `<name>-<minutes since epoch>` with the scheduled-timestamp annotation (SuccessfulCreate),
    and SawCompletedJob when it finishes. Then it deletes finished Jobs beyond the history
    limits (SuccessfulDelete). The API server keeps Events for `event_ttl` (--event-ttl, 1h).

    Ticks come from cronjobs.cronctl.schedule (tested on its own against robfig/cron's cases).
    """
    import heapq

    from cronjobs.cronctl import schedule as sched

    spec, meta = cronjob["spec"], cronjob["metadata"]
    name = meta["name"]
    created = datetime.datetime.fromisoformat(meta["creationTimestamp"].replace("Z", "+00:00"))
    zone = spec.get("timeZone")
    deadline = spec.get("startingDeadlineSeconds")
    ticks = sched.ticks(spec["schedule"], zone, created, now, anchor=created)
    long_runs, failed = long_runs or {}, failed or set()
    syncs = [
        *ticks,
        *(b for _, b in suspended if b and b <= now),
        *(b for _, b in down if b <= now),
    ]
    heapq.heapify(syncs)
    jobs: list[dict[str, Any]] = []
    running: list[tuple[datetime.datetime, datetime.datetime, str]] = []  # (start, end, job)
    events: list[dict[str, Any]] = []
    last: datetime.datetime | None = None

    def event(
        at: datetime.datetime, kind: str, obj: str, type_: str, reason: str, msg: str
    ) -> None:
        if at > now - event_ttl:
            events.append(event_body(at, kind, obj, type_, reason, msg))

    seen: set[datetime.datetime] = set()
    while syncs:
        t = heapq.heappop(syncs)
        if t > now or t in seen:
            continue
        seen.add(t)
        if any(a <= t < b for a, b in down) or any(
            a <= t and (b is None or t < b) for a, b in suspended
        ):
            continue
        earliest = last or created
        if deadline is not None:
            earliest = max(earliest, t - datetime.timedelta(seconds=deadline))
        unmet = [x for x in ticks if earliest < x <= t]
        if not unmet:
            continue
        if len(unmet) > 100:
            event(
                t,
                "CronJob",
                name,
                "Warning",
                "TooManyMissedTimes",
                "too many missed start "
                "times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
            )
        scheduled = unmet[-1]
        active = [job for start, end, job in running if start <= t < end]
        if spec.get("concurrencyPolicy") == "Forbid" and active:
            event(
                t,
                "CronJob",
                name,
                "Normal",
                "JobAlreadyActive",
                "Not starting job because "
                "prior execution is running and concurrency policy is Forbid",
            )
            continue
        job_name = f"{name}-{int(scheduled.timestamp()) // 60}"
        end = t + long_runs.get(scheduled, run_for)
        result = "Failed" if scheduled in failed else "Succeeded"
        if end > now:
            result = "Running"
        jobs.append(_job(cronjob, job_name, scheduled, t, end, result))
        running.append((t, end, job_name))
        last = scheduled
        event(t, "CronJob", name, "Normal", "SuccessfulCreate", f"Created job {job_name}")
        if end <= now:
            heapq.heappush(syncs, end)
            event(
                end,
                "CronJob",
                name,
                "Normal",
                "SawCompletedJob",
                f"Saw completed job: {job_name}, condition: {'Complete' if result == 'Succeeded' else 'Failed'}",
            )
            if result == "Failed":
                event(
                    end,
                    "Job",
                    job_name,
                    "Warning",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                )
    for result, key, default in (
        ("Succeeded", "successfulJobsHistoryLimit", 3),
        ("Failed", "failedJobsHistoryLimit", 1),
    ):
        done = [j for j in jobs if _result(j) == result]
        for old in done[: max(0, len(done) - spec.get(key, default))]:
            jobs.remove(old)
    return History(jobs, events, last)


def _result(job: dict[str, Any]) -> str:
    conds = job["status"].get("conditions") or []
    return (
        "Succeeded"
        if any(c["type"] == "Complete" for c in conds)
        else ("Failed" if conds else "Running")
    )


def _stamp(t: datetime.datetime) -> str:
    return t.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _job(
    cronjob: dict[str, Any],
    name: str,
    scheduled: datetime.datetime,
    start: datetime.datetime,
    end: datetime.datetime,
    result: str,
) -> dict[str, Any]:
    meta = cronjob["metadata"]
    status: dict[str, Any] = {"startTime": _stamp(start)}
    if result == "Succeeded":
        status.update(
            completionTime=_stamp(end),
            succeeded=1,
            conditions=[{"type": "Complete", "status": "True", "lastTransitionTime": _stamp(end)}],
        )
    elif result == "Failed":
        status.update(
            failed=1,
            conditions=[
                {
                    "type": "Failed",
                    "status": "True",
                    "lastTransitionTime": _stamp(end),
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                }
            ],
        )
    else:
        status["active"] = 1
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "labels": dict(cronjob["spec"]["jobTemplate"]["metadata"]["labels"]),
            "annotations": {"batch.kubernetes.io/cronjob-scheduled-timestamp": _stamp(scheduled)},
            "creationTimestamp": _stamp(start),
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": cronjob["spec"]["jobTemplate"]["spec"],
        "status": status,
    }


def event_body(
    at: datetime.datetime, kind: str, obj: str, type_: str, reason: str, message: str
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{obj}.{uuid.uuid4().hex[:16]}"},
        "involvedObject": {"kind": kind, "name": obj, "apiVersion": "batch/v1"},
        "reason": reason,
        "message": message,
        "type": type_,
        "count": 1,
        "firstTimestamp": _stamp(at),
        "lastTimestamp": _stamp(at),
        "source": {"component": "cronjob-controller" if kind == "CronJob" else "job-controller"},
    }
