"""Plain helpers for the image tests: read the Dockerfile and .dockerignore as Docker does.

The static checks of the Dockerfile (test_dockerfile.py) read its instructions with these; the
image itself is built and run by podman (conftest.py, podman.py).
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
IMAGE_LOCK = REPO / "requirements" / "image.txt"
BUILD_LOCK = REPO / "requirements" / "build.txt"
BUILD_IN = REPO / "requirements" / "build.in"


@dataclass
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    args: str  # the rest of the instruction, continuation lines joined

    def json_args(self) -> list[str] | None:
        """The exec form (`["a", "b"]`) as a list, or None for the shell form."""
        import json

        text = self.args.strip()
        if not text.startswith("["):
            return None
        value = json.loads(text)
        assert isinstance(value, list)
        return [str(v) for v in value]


@dataclass
class Stage:
    base: str  # the FROM image, ARGs declared before the first FROM substituted
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def instructions(text: str) -> list[Instruction]:
    """Instructions of a Dockerfile: comments dropped, `\\` continuations joined."""
    out: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # Docker drops comment lines, also inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, args = full.partition(" ")
        out.append(Instruction(keyword.upper(), " ".join(args.split())))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def stages(text: str) -> list[Stage]:
    """The build stages, with global ARG defaults substituted into each FROM."""
    global_args: dict[str, str] = {}
    result: list[Stage] = []
    for ins in instructions(text):
        if ins.keyword == "FROM":
            words = ins.args.split()
            base = re.sub(
                r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), m.group(0)), words[0]
            )
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append(Stage(base, name))
        elif not result:
            if ins.keyword == "ARG":
                key, _, default = ins.args.partition("=")
                global_args[key.strip()] = default.strip()
        else:
            result[-1].instructions.append(ins)
    return result


def copy_sources(ins: Instruction) -> list[str]:
    """The context paths a COPY (without --from) reads; [] for COPY --from=<stage>."""
    words = [w for w in shlex.split(ins.args)]
    if any(w.startswith("--from") for w in words):
        return []
    paths = [w for w in words if not w.startswith("--")]
    return paths[:-1]


# ---- .dockerignore, as moby's patternmatcher reads it -------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out += pattern[i : end + 1]
            i = end + 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


@dataclass
class DockerIgnore:
    """Patterns in order; the last one that matches a path or one of its parents wins."""

    rules: list[tuple[bool, str, re.Pattern[str]]]  # (negated, pattern, regex)

    @classmethod
    def read(cls, path: Path = DOCKERIGNORE) -> DockerIgnore:
        rules = []
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            pattern = line[1:].strip() if negated else line
            pattern = pattern.strip("/").removeprefix("./")
            rules.append((negated, pattern, _pattern_regex(pattern)))
        return cls(rules)

    def excluded(self, relpath: str) -> bool:
        parts = relpath.strip("/").split("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        result = False
        for negated, _pattern, regex in self.rules:
            if any(regex.fullmatch(c) for c in candidates):
                result = not negated
        return result

    def context_files(self, root: Path = REPO) -> list[str]:
        """Every file `docker build` would send from root, as paths relative to it."""
        out = []
        for dirpath, dirnames, filenames in os.walk(root):
            base = Path(dirpath).relative_to(root).as_posix().removeprefix(".")
            prefix = f"{base.strip('/')}/" if base.strip("/") else ""
            dirnames[:] = [d for d in dirnames if not self._prunable(prefix + d)]
            out += [prefix + f for f in filenames if not self.excluded(prefix + f)]
        return sorted(out)

    def _prunable(self, reldir: str) -> bool:
        """An excluded folder that no `!` pattern could re-include anything inside."""
        if not self.excluded(reldir):
            return False
        return not any(
            negated and (pattern.startswith(f"{reldir}/") or pattern.startswith("*"))
            for negated, pattern, _regex in self.rules
        )
