"""Field ownership as the API server keeps it (`metadata.managedFields`), for the emulator.

The rules the emulator needs from the real server's field manager (structured-merge-diff):

- Every write names a manager: the `fieldManager` query parameter, else the User-Agent up to its
  first "/" (the official Python client: "OpenAPI-Generator"). Entries are per (manager,
  operation, subresource); operation `Apply` for a server-side apply, `Update` for anything else.
- An Update takes the fields whose value it changed (or added) from every other manager, never
  conflicts, and keeps what it owned before; a removed field is nobody's.
- An Apply (PATCH `application/apply-patch+yaml`) owns exactly the fields of the applied
  configuration. A field whose applied value differs from the live one and that another manager
  owns is a conflict: 409 unless `force=true` (then the apply takes it). A field applied with the
  live value becomes shared. A field the manager applied before and no longer applies is removed
  from the object, unless another manager owns it too.

Owned fields are the leaves of `metadata.labels`, `metadata.annotations` and `spec` (`status` for
the status subresource); a list counts as one leaf (the chart's lists are always applied whole).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
Path = tuple[str, ...]
Key = tuple[str, str, str]
"""(manager, operation, subresource)."""
Owners = dict[Key, set[Path]]
MISSING = object()


def leaves(obj: Obj | None, subresource: str = "") -> dict[Path, Any]:
    """The fields a manager can own, each with its value."""
    obj = obj or {}
    meta = obj.get("metadata") or {}
    roots: dict[str, Any] = (
        {"status": obj.get("status")}
        if subresource == "status"
        else {
            "metadata": {k: meta[k] for k in ("labels", "annotations") if meta.get(k)},
            "spec": obj.get("spec"),
        }
    )
    out: dict[Path, Any] = {}

    def walk(value: Any, path: Path) -> None:
        if isinstance(value, dict) and (value or len(path) == 1):
            for k, v in value.items():
                walk(v, (*path, k))
        elif value is not None:
            out[path] = value

    for root, value in roots.items():
        if isinstance(value, dict):
            walk(value, (root,))
    return out


def field(path: Path) -> str:
    """The path as the API server prints it: `.spec.suspend`."""
    return "".join(f".{p}" for p in path)


def read(obj: Obj | None) -> tuple[Owners, dict[Key, str]]:
    """The object's managedFields as owners, and each entry's time."""
    owners: Owners = {}
    times: dict[Key, str] = {}
    for entry in ((obj or {}).get("metadata") or {}).get("managedFields") or ():
        key = (entry["manager"], entry["operation"], entry.get("subresource", ""))
        owners[key] = _paths(entry.get("fieldsV1") or {}, ())
        times[key] = entry.get("time", "")
    return owners, times


def entries(
    owners: Owners, times: dict[Key, str], api_version: str, now: str, touched: Key
) -> list[Obj]:
    """managedFields as the API server writes them (FieldsV1 trees), the `touched` one at `now`."""
    out = []
    for key, paths in owners.items():
        if not paths:
            continue
        manager, operation, subresource = key
        entry: Obj = {
            "manager": manager,
            "operation": operation,
            "apiVersion": api_version,
            "time": now if key == touched else times.get(key, now),
            "fieldsType": "FieldsV1",
            "fieldsV1": _tree(paths),
        }
        if subresource:
            entry["subresource"] = subresource
        out.append(entry)
    return out


def after_update(
    owners: Owners, manager: str, subresource: str, before: Obj | None, after: Obj
) -> Owners:
    """Ownership after an Update (create, merge/strategic/JSON patch) from `before` to `after`."""
    old, new = leaves(before, subresource), leaves(after, subresource)
    changed = {p for p, v in new.items() if old.get(p, MISSING) != v}
    me = (manager, "Update", subresource)
    result: Owners = {}
    for key, paths in owners.items():
        if key[2] != subresource:
            result[key] = set(paths)
        else:
            result[key] = {p for p in paths if p in new and p not in changed}
    result[me] = (owners.get(me, set()) & set(new)) | changed
    return {k: v for k, v in result.items() if v}


@dataclass(frozen=True)
class Conflict:
    path: Path
    manager: Key


def apply(
    live: Obj | None, config: Obj, owners: Owners, manager: str, force: bool
) -> tuple[Obj, Owners, list[Conflict]]:
    """A server-side apply of `config` by `manager` onto `live` (None: it creates the object).

    Returns the new object and owners, or the conflicts (and `live` unchanged) when another
    manager owns a field the apply would change and `force` is false.
    """
    me: Key = (manager, "Apply", "")
    applied, current = leaves(config), leaves(live)
    others = {k: v for k, v in owners.items() if k != me and not k[2]}
    changes = {p for p, v in applied.items() if current.get(p, MISSING) != v}
    conflicts = [
        Conflict(p, key)
        for p in sorted(changes)
        for key, paths in others.items()
        if p in paths or any(p[:i] in paths for i in range(1, len(p)))
    ]
    if conflicts and not force:
        return live or {}, owners, conflicts
    obj = copy.deepcopy(live) if live is not None else _skeleton(config)
    shared = set().union(*others.values()) if others else set()
    for p in owners.get(me, set()) - set(applied) - shared:
        _remove(obj, p)
    for p, v in applied.items():
        _set(obj, p, copy.deepcopy(v))
    result: Owners = {k: {p for p in v if p not in changes} for k, v in owners.items()}
    result[me] = set(applied)
    remaining = set(leaves(obj))
    return obj, {k: v & remaining for k, v in result.items() if v & remaining}, []


def conflict_message(conflicts: list[Conflict], api_version: str) -> str:
    """The API server's wording (apiserver's fieldmanager, getConflictMessage)."""

    def who(key: Key) -> str:
        manager, operation, subresource = key
        text = f'"{manager}"' + (f' with subresource "{subresource}"' if subresource else "")
        return f"{text} using {api_version}" if operation == "Update" else text

    if len(conflicts) == 1:
        c = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {who(c.manager)}: {field(c.path)}"
    lines = []
    for key in dict.fromkeys(c.manager for c in conflicts):
        lines.append(f"conflicts with {who(key)}:")
        lines.extend(f"- {field(c.path)}" for c in conflicts if c.manager == key)
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def conflict_causes(conflicts: list[Conflict], api_version: str) -> list[Obj]:
    return [
        {
            "reason": "FieldManagerConflict",
            "message": f'conflict with "{c.manager[0]}"'
            + (f" using {api_version}" if c.manager[1] == "Update" else ""),
            "field": field(c.path),
        }
        for c in conflicts
    ]


def _skeleton(config: Obj) -> Obj:
    meta = config.get("metadata") or {}
    return {
        "apiVersion": config.get("apiVersion"),
        "kind": config.get("kind"),
        "metadata": {k: v for k, v in meta.items() if k not in ("labels", "annotations")},
    }


def _set(obj: Obj, path: Path, value: Any) -> None:
    node = obj
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value


def _remove(obj: Obj, path: Path) -> None:
    parents = [obj]
    for part in path[:-1]:
        child = parents[-1].get(part)
        if not isinstance(child, dict):
            return
        parents.append(child)
    parents[-1].pop(path[-1], None)
    for depth in range(len(path) - 1, 1, -1):  # prune emptied maps below metadata/spec
        if not parents[depth]:
            parents[depth - 1].pop(path[depth - 1], None)


def _tree(paths: set[Path]) -> Obj:
    tree: Obj = {}
    for path in sorted(paths):
        node = tree
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return tree


def _paths(tree: Obj, prefix: Path) -> set[Path]:
    out: set[Path] = set()
    for k, v in tree.items():
        if not k.startswith("f:"):
            continue
        path = (*prefix, k[2:])
        out |= _paths(v, path) if v else {path}
    return out
