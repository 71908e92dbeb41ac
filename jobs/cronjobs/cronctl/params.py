"""Parameterised triggers: the arguments `cronctl trigger NAME -- ARGS` may add to a run.

The chart renders each job's allowlist (`jobs.<key>.allowedTriggerArgs`) as the JSON list in the
CronJob's `cronctl.cronjobs.dev/allowed-args` annotation. An entry is an option name: `--dry-run`
is a flag (no value); `--date=` (a trailing `=`) takes exactly one value, given as
`--date=2026-11-30` or `--date 2026-11-30`. Anything else (an option not listed, a flag given a
value, a bare word) is refused with the allowlist in the message. kubectl cannot do this at all
(`kubectl create job --from` refuses a command).
"""

from __future__ import annotations

import json

from cronjobs.cronctl import model
from cronjobs.cronctl.errors import ConfigError
from cronjobs.cronctl.model import Obj


def allowlist(cronjob: Obj) -> tuple[str, ...]:
    raw = (cronjob.get("metadata", {}).get("annotations") or {}).get(model.ALLOWED_ARGS)
    try:
        entries = json.loads(raw) if raw else []
    except ValueError:
        return ()
    return tuple(str(e) for e in entries) if isinstance(entries, list) else ()


def _refuse(name: str, allowed: tuple[str, ...], what: str) -> ConfigError:
    shown = ", ".join(a + ("VALUE" if a.endswith("=") else "") for a in allowed)
    where = f"allowed for {name}: {shown}" if allowed else f"{name} allows no arguments"
    return ConfigError(
        f"{what}: {where}. The chart's jobs.<key>.allowedTriggerArgs sets the list "
        "(an entry ending in '=' takes a value)"
    )


def check(cronjob: Obj, args: tuple[str, ...]) -> tuple[str, ...]:
    """`args` normalised (`--date X` becomes `--date=X`), or ConfigError naming the allowlist."""
    if not args:
        return ()
    name = str(cronjob.get("metadata", {}).get("name", ""))
    allowed = allowlist(cronjob)
    flags = {a for a in allowed if not a.endswith("=")}
    valued = {a[:-1] for a in allowed if a.endswith("=")}
    out: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        option, eq, _ = arg.partition("=")
        if (option in flags and not eq) or (option in valued and eq):
            out.append(arg)
        elif option in valued and rest and not rest[0].startswith("-"):
            out.append(f"{option}={rest.pop(0)}")
        elif option in valued:
            raise _refuse(name, allowed, f"argument {option} needs a value")
        elif option in flags:
            raise _refuse(name, allowed, f"argument {option} takes no value")
        else:
            raise _refuse(name, allowed, f"argument {arg!r} is not on the allowlist")
    return tuple(out)
