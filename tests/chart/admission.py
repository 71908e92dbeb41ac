"""What the API server does with the chart's ValidatingAdmissionPolicies, with a real CEL
interpreter: cel-python (`celpy`, pure Python) or `common-expression-language` (the Rust
cel-interpreter), from PyPI; the tests run every case on both.

No kube-apiserver runs here, so this module plays its admission plugin, as documented for
admissionregistration.k8s.io/v1: the binding's namespace and object selectors, the policy's
resource rules and matchConditions (any false: not matched, admitted), the parameters (paramRef:
the objects its selector picks in its namespace; none and parameterNotFoundAction Deny: denied;
several: every validation must hold for each), the variables in order, and the validations (an
error counts as a failure: failurePolicy Fail). Like the API server (object, oldObject and params
are declared `dyn`), it hands CEL plain JSON maps and lists.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import cel
import celpy
from celpy import celtypes

Obj = dict[str, Any]
Evaluate = Callable[[str, dict[str, Any]], Any]

_CELPY = celpy.Environment()


@functools.cache
def _program(expression: str) -> celpy.Runner:
    return _CELPY.program(_CELPY.compile(expression))


def _celpy(expression: str, activation: dict[str, Any]) -> Any:
    program = _program(expression)
    values = {
        name: (
            celtypes.MapType({celtypes.StringType(k): _celvalue(v) for k, v in value.items()})
            if name == "variables"
            else _json_to_cel(value)
        )
        for name, value in activation.items()
    }
    result = program.evaluate(values)
    return bool(result) if isinstance(result, celtypes.BoolType) else result


_CONVERTED: dict[int, tuple[Any, Any]] = {}


def _json_to_cel(value: Any) -> Any:
    """celpy.json_to_cel, once per object and request (each expression gets the same ones)."""
    if not isinstance(value, dict | list):
        return celpy.json_to_cel(value)
    seen = _CONVERTED.get(id(value))
    if seen is None or seen[0] is not value:
        seen = _CONVERTED[id(value)] = (value, celpy.json_to_cel(value))
    return seen[1]


def _celvalue(value: Any) -> Any:
    """A variable's value as celpy returned it; a bool was made a Python bool above."""
    return celtypes.BoolType(value) if isinstance(value, bool) else value


@functools.cache
def _rust_program(expression: str) -> Any:
    return cel.compile(expression)


def _rust(expression: str, activation: dict[str, Any]) -> Any:
    return _rust_program(expression).execute(activation)


INTERPRETERS: dict[str, Evaluate] = {"cel-python": _celpy, "common-expression-language": _rust}


class _Failed:
    """A variable whose expression failed: any expression that refers to it fails too."""


def _selects(selector: Obj | None, labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector; none (absent) selects everything."""
    if not selector:
        return True
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for req in selector.get("matchExpressions") or ():
        key, op, values = req["key"], req["operator"], req.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


@dataclass
class Request:
    """One admission request: the operation on a resource, by a user."""

    operation: str  # CREATE or UPDATE
    resource: str  # jobs, cronjobs
    namespace: str
    object: Obj
    old_object: Obj | None = None
    username: str = "alice@example.com"
    groups: list[str] = field(default_factory=lambda: ["system:authenticated"])


def _labels(obj: Obj | None) -> dict[str, str]:
    return dict(((obj or {}).get("metadata") or {}).get("labels") or {})


def denials(
    policy: Obj,
    binding: Obj,
    request: Request,
    cluster: Iterable[Obj] = (),
    evaluate: Evaluate = _celpy,
) -> list[str] | None:
    """None when the policy does not apply to the request; else the messages of the failed
    validations (an empty list: admitted). `cluster` holds the objects params are picked from."""
    _CONVERTED.clear()  # the caller may have changed an object since the last request
    spec, bspec = policy["spec"], binding["spec"]
    assert bspec["policyName"] == policy["metadata"]["name"]
    match = bspec.get("matchResources") or {}
    if not _selects(
        match.get("namespaceSelector"), {"kubernetes.io/metadata.name": request.namespace}
    ):
        return None
    # On UPDATE the object selector matches if either the new or the old object's labels match.
    if not any(
        _selects(match.get("objectSelector"), _labels(o))
        for o in (request.object, request.old_object)
        if o is not None
    ):
        return None
    if not any(
        request.resource in rule["resources"] and request.operation in rule["operations"]
        for rule in spec["matchConstraints"]["resourceRules"]
    ):
        return None
    base = {
        "object": request.object,
        "oldObject": request.old_object,
        "request": {
            "operation": request.operation,
            "namespace": request.namespace,
            "userInfo": {"username": request.username, "groups": request.groups},
        },
    }
    for condition in spec.get("matchConditions") or ():
        if evaluate(condition["expression"], base) is not True:
            return None
    if "paramKind" not in spec:
        return _validate(spec, base, evaluate)
    ref = bspec["paramRef"]
    kind = spec["paramKind"]
    params = [
        o
        for o in cluster
        if o["kind"] == kind["kind"]
        and o["apiVersion"] == kind["apiVersion"]
        and o["metadata"].get("namespace") == ref["namespace"]
        and _selects(ref.get("selector"), _labels(o))
    ]
    if not params:
        assert ref["parameterNotFoundAction"] == "Deny"
        return ["no params found"]
    failed: list[str] = []
    for param in params:
        failed += [
            m for m in _validate(spec, {**base, "params": param}, evaluate) if m not in failed
        ]
    return failed


def _validate(spec: Obj, activation: dict[str, Any], evaluate: Evaluate) -> list[str]:
    variables: dict[str, Any] = {}
    for var in spec.get("variables") or ():
        try:
            variables[var["name"]] = evaluate(
                var["expression"], {**activation, "variables": variables}
            )
        except Exception:
            variables[var["name"]] = _Failed()
    failed = []
    for validation in spec["validations"]:
        expression = validation["expression"]
        broken = [
            n
            for n in re.findall(r"variables\.(\w+)", expression)
            if isinstance(variables.get(n), _Failed)
        ]
        ok = False
        if not broken:
            ready = {k: v for k, v in variables.items() if not isinstance(v, _Failed)}
            try:
                ok = evaluate(expression, {**activation, "variables": ready}) is True
            except Exception:
                ok = False
        if not ok:
            failed.append(validation["message"])
    return failed
