"""Find client configs that name brokers directly, and rewrite them to the facade names as patches.

A finding is a broker's `host:port` exactly: the host not glued to a longer name
(`analytics-kafka1.example.com` or `kafka1.example.com.dr.example.net` are other hosts) and the
broker's own port (`kafka1.example.com:9999` is JMX or another listener, not a bootstrap address).
Every text file is read, whatever its type (.properties, YAML, JSON, .env, HCL, source...): bootstrap
strings hide everywhere, and the match rules above are what keeps the rest out.

Patches are unified diffs in git's format, one per repository: each file belongs to the git work tree
that holds it (found by walking up from the file), or else to the PATH it was found under, and paths
in the patch are relative to that root, so `git apply <patch>` works from the root.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Folders that hold tools' state or vendored code, never a team's client configs.
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".terraform", ".tox"})
#: Diffs (our own patches among them) quote old configs; they are not configs.
SKIP_SUFFIXES = frozenset({".patch", ".diff", ".orig", ".rej"})
#: Larger files are data, not configuration.
MAX_BYTES = 2_000_000

FacadeName = Callable[[int], str]


@dataclass(frozen=True)
class BrokerHost:
    id: int
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int  # 1-based
    column: int  # 1-based
    text: str  # the whole line, stripped
    broker: int
    match: str  # the host:port as written
    replacement: str | None  # the facade host:port, when a facade pattern is known

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "line": self.line,
            "column": self.column,
            "text": self.text,
            "broker": self.broker,
            "match": self.match,
            "replacement": self.replacement,
        }


@dataclass(frozen=True)
class Patch:
    root: Path  # the work tree (or PATH) the diff is relative to
    path: Path | None  # the patch file written (None when only rewritten in place)
    files: tuple[Path, ...]  # the files it changes


class Matcher:
    """One regular expression for all brokers; each match says which broker it names."""

    def __init__(self, brokers: Iterable[BrokerHost]) -> None:
        self._by_address = {b.address.lower(): b for b in brokers}
        if not self._by_address:
            raise ValueError("no broker host to look for")
        alternatives = "|".join(re.escape(a) for a in sorted(self._by_address, key=len, reverse=True))
        self._regex = re.compile(rf"(?<![\w.-])(?:{alternatives})(?![\w-]|\.\w)", re.IGNORECASE)

    def finditer(self, text: str) -> Iterator[tuple[re.Match[str], BrokerHost]]:
        for match in self._regex.finditer(text):
            yield match, self._by_address[match.group(0).lower()]


def facade_pattern(pattern: str) -> FacadeName:
    """'kafka-{id}.example.com' -> a function giving the facade host for a broker id."""
    if "{id}" not in pattern:
        raise ValueError(f"the facade pattern {pattern!r} must contain {{id}}")
    return lambda broker_id: pattern.format(id=broker_id).rstrip(".")


def _files(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    for child in sorted(path.iterdir()):
        if child.is_dir() and not child.is_symlink():
            if child.name not in SKIP_DIRS:
                yield from _files(child)
        elif child.is_file() and child.suffix not in SKIP_SUFFIXES:
            yield child


def _read_text(path: Path) -> str | None:
    """The file's text with its line endings kept, or None for binary, huge or non-UTF-8 files."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _scan_text(path: Path, text: str, matcher: Matcher, facade: FacadeName | None) -> Iterator[Finding]:
    for number, line in enumerate(text.splitlines(), start=1):
        for match, broker in matcher.finditer(line):
            yield Finding(
                path=path,
                line=number,
                column=match.start() + 1,
                text=line.strip(),
                broker=broker.id,
                match=match.group(0),
                replacement=f"{facade(broker.id)}:{broker.port}" if facade else None,
            )


def scan(paths: Iterable[Path], brokers: Iterable[BrokerHost], facade: FacadeName | None = None) -> list[Finding]:
    """Every place under `paths` where a broker's host:port is written."""
    matcher = Matcher(brokers)
    findings: list[Finding] = []
    for root in paths:
        for path in _files(Path(root)):
            text = _read_text(path)
            if text is not None:
                findings += _scan_text(path, text, matcher, facade)
    return findings


def rewrite_text(text: str, matcher: Matcher, facade: FacadeName) -> str:
    """`text` with every broker host:port replaced by its facade host:port (line endings kept)."""
    pieces, last = [], 0
    for match, broker in matcher.finditer(text):
        pieces += [text[last : match.start()], f"{facade(broker.id)}:{broker.port}"]
        last = match.end()
    return "".join(pieces) + text[last:]


def work_tree(path: Path) -> Path | None:
    """The root of the git work tree holding `path` (a `.git` directory, or file for worktrees)."""
    for parent in Path(path).resolve().parents:
        if (parent / ".git").exists():
            return parent
    return None


def unified_diff(root: Path, path: Path, old: str, new: str) -> str:
    """A git-style diff of one file, relative to `root`, that `git apply` accepts."""
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    lines = [f"diff --git a/{rel} b/{rel}\n"]
    for line in difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{rel}", f"b/{rel}"):
        lines.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(lines)


def _patch_name(root: Path, taken: set[str]) -> str:
    base = re.sub(r"[^\w.-]+", "-", root.resolve().name) or "root"
    name, n = f"{base}.patch", 1
    while name in taken:
        n += 1
        name = f"{base}-{n}.patch"
    taken.add(name)
    return name


def rewrite(
    paths: Iterable[Path],
    brokers: Iterable[BrokerHost],
    facade: FacadeName,
    patch_dir: Path | None,
    *,
    in_place: bool = False,
) -> list[Patch]:
    """Write one patch per repository into `patch_dir` (when given) and, only with `in_place`, change
    the files themselves. Returns one Patch per repository that has changes."""
    matcher = Matcher(brokers)
    groups: dict[Path, list[tuple[Path, str, str]]] = defaultdict(list)
    for given in paths:
        given = Path(given)
        fallback = given if given.is_dir() else given.parent
        for path in _files(given):
            old = _read_text(path)
            if old is None:
                continue
            new = rewrite_text(old, matcher, facade)
            if new != old:
                groups[work_tree(path) or fallback.resolve()].append((path, old, new))

    patches, taken = [], set()
    if patch_dir is not None:
        patch_dir.mkdir(parents=True, exist_ok=True)
    for root, changes in sorted(groups.items()):
        changes.sort(key=lambda c: c[0].resolve())
        target = patch_dir / _patch_name(root, taken) if patch_dir is not None else None
        if target is not None:
            target.write_text("".join(unified_diff(root, path, old, new) for path, old, new in changes))
        if in_place:
            for path, _, new in changes:
                with open(path, "w", encoding="utf-8", newline="") as handle:
                    handle.write(new)
        patches.append(Patch(root, target, tuple(path for path, _, _ in changes)))
    return patches
