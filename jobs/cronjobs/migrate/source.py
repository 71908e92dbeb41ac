"""The app's Python source as syntax trees, and what its names refer to, without running it.

`load_sources` parses every .py file under the paths given (a usage error, `ConfigError`, for a
missing path, a file that does not parse, or no .py file at all). `Names` answers, for one
module, what a name or a dotted attribute refers to (`app.services.cron_jobs:cleanup`), from its
import statements, its module-level functions and its constants assigned once.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cronjobs.errors import ConfigError
from cronjobs.files import read_regular

SKIPPED_DIRS = {"__pycache__", "node_modules", "site-packages", "venv", "build", "dist"}
REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
MAX_BYTES = 10 * 1024 * 1024
"""A source file larger than this is refused (the largest generated modules are a few MB)."""
MAX_DEPTH = 200
"""Expressions nested deeper are refused: reading them would exhaust Python's recursion limit."""


@dataclass(frozen=True)
class Source:
    path: Path
    display: str
    """The path as the user gave it (or below the directory they gave), for messages."""
    module: str
    """The dotted module name, from the package layout (directories with an __init__.py)."""
    tree: ast.Module


class Unresolved(Exception):
    """A function reference or an argument that cannot be read statically; the message says why."""


def load_sources(paths: Sequence[Path | str]) -> list[Source]:
    """The parsed .py files of `paths` (files, or directories searched recursively), as given:
    an empty string is refused, not read as the current directory."""
    files: list[tuple[Path, str]] = []
    for text in paths:
        if str(text) == "":
            raise ConfigError("an empty path: give the app's source file or directory (. for here)")
        given = Path(text)
        if not given.exists():
            raise ConfigError(f"{given}: no such file or directory")
        if given.is_dir():
            files += [(f, str(f)) for f in _python_files(given)]
        else:
            files.append((given, str(given)))
    if not files:
        raise ConfigError(f"no .py files in {', '.join(map(str, paths))}: give the app's source")
    seen: set[Path] = set()
    sources = []
    for path, display in files:
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        sources.append(Source(path, display, module_name(path), _parse(path, display)))
    return sources


def _python_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts[:-1]
        if not any(p.startswith(".") or p in SKIPPED_DIRS for p in parts):
            yield path


def _parse(path: Path, display: str) -> ast.Module:
    try:
        data = _read(path, display)
        if b"\0" in data:  # Python refuses them, with no line number: say what it means
            raise ConfigError(
                f"{display}: cannot read it as Python source: it holds NUL bytes (a binary file, "
                "or text saved as UTF-16?): convert it to UTF-8, or leave it out of PATH"
            )
        tree = ast.parse(data, filename=display)
    except SyntaxError as e:
        line = f":{e.lineno}" if e.lineno else ""
        raise ConfigError(
            f"{display}{line}: syntax error: {e.msg}. The source is read, never run: fix "
            "the file, or leave it out of PATH"
        ) from e
    except (RecursionError, MemoryError):
        raise _too_deep(display, None) from None
    except (OSError, ValueError) as e:  # unreadable, bad encoding
        raise ConfigError(f"{display}: cannot read it as Python source: {e}") from e
    _check_depth(tree, display)
    return tree


def _read(path: Path, display: str) -> bytes:
    return read_regular(
        path, display, MAX_BYTES, "give the app's .py files or the directory that holds them"
    )


def _too_deep(display: str, line: int | None) -> ConfigError:
    at = f":{line}" if line else ""
    return ConfigError(
        f"{display}{at}: an expression nested more than {MAX_DEPTH} levels deep, too deep to "
        "read (it is read, never run): simplify it, or leave the file out of PATH"
    )


def _check_depth(tree: ast.AST, display: str) -> None:
    """A ConfigError for a node nested deeper than MAX_DEPTH (later steps walk the tree
    recursively); counted without recursion."""
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep(display, getattr(node, "lineno", None))
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def module_name(path: Path) -> str:
    """`app.services.cron_jobs` for app/services/cron_jobs.py when app/ and app/services/
    hold an __init__.py; a file outside a package is a top-level module (`main`)."""
    parts = [] if path.stem == "__init__" else [path.stem]
    directory = path.resolve().parent
    while (directory / "__init__.py").exists() and directory.parent != directory:
        parts.insert(0, directory.name)
        directory = directory.parent
    return ".".join(parts)


class Names:
    """What the names of one module refer to, as dotted paths (`app.services.cron_jobs`)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.imports: dict[str, str] = {}
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        assigned: dict[str, list[ast.expr]] = {}
        package = self._package()
        for node in ast.walk(source.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.imports[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        self.imports[top] = top
            elif isinstance(node, ast.ImportFrom):
                base = self._absolute(node, package)
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = f"{base}.{alias.name}"
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name) and node.value is not None:
                        assigned.setdefault(target.id, []).append(node.value)
        for stmt in source.tree.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                self.functions[stmt.name] = stmt
        self.constants = {name: values[0] for name, values in assigned.items() if len(values) == 1}

    def _package(self) -> str:
        module = self.source.module
        return module if self.source.path.name == "__init__.py" else module.rpartition(".")[0]

    def _absolute(self, node: ast.ImportFrom, package: str) -> str:
        if not node.level:
            return node.module or ""
        parts = package.split(".") if package else []
        if node.level - 1 > len(parts):
            return node.module or ""
        base = parts[: len(parts) - (node.level - 1)]
        return ".".join([*base, *([node.module] if node.module else [])])

    def reference(self, node: ast.expr) -> str:
        """The `module:function` a job's func argument names, or Unresolved saying why."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if REFERENCE.match(node.value):
                return node.value
            raise Unresolved(f"{node.value!r} is not a 'module:function' reference")
        if isinstance(node, ast.Name) and node.id in self.constants:
            return self.reference(self.constants[node.id])
        chain = _dotted(node)
        if chain is None:
            raise Unresolved(f"{ast.unparse(node)!r} is not a function name (a lambda or a call?)")
        head, *rest = chain
        if head in self.imports:
            target = ".".join([self.imports[head], *rest])
            module, _, function = target.rpartition(".")
            if module:
                return f"{module}:{function}"
        elif not rest and head in self.functions:
            return f"{self.source.module}:{head}"
        raise Unresolved(
            f"{ast.unparse(node)!r} is neither imported nor a module-level function of "
            f"{self.source.display}"
        )

    def literal(self, node: ast.expr) -> Any:
        """The value of a literal (or of a module constant assigned once to a literal)."""
        if isinstance(node, ast.Name) and node.id in self.constants:
            node = self.constants[node.id]
        try:
            return ast.literal_eval(node)
        except ValueError:
            raise Unresolved(f"{ast.unparse(node)} is not a literal") from None


def _dotted(node: ast.expr) -> list[str] | None:
    """`a.b.c` as ["a", "b", "c"]; None for anything but names and attributes."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else [*base, node.attr]
    return None


def call_name(node: ast.expr) -> str:
    """The last name of a call's function: `CronTrigger.from_crontab` -> `from_crontab`."""
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def docstring_line(func: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    doc = ast.get_docstring(func)
    return doc.strip().splitlines()[0].strip() if doc and doc.strip() else None
