"""Keeps the package's shape (docs/architecture.md), beside the floors contract (.importlinter):

- no module in ``src/portti`` longer than 450 lines (migrations and vendored files aside);
- no import inside a function, unless a comment on the line above (or above the block of
  imports it stands in) says why.

Exit status 1 and one line per finding when either is broken. ``make lint`` runs it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "portti"
MAX_LINES = 450
LEFT_OUT = ("db/migrations/",)


def modules(package: Path) -> list[Path]:
    return sorted(
        p
        for p in package.rglob("*.py")
        if not any(part in p.relative_to(package).as_posix() for part in LEFT_OUT)
        and "static" not in p.relative_to(package).parts
    )


def too_long(path: Path) -> str | None:
    lines = path.read_text(encoding="utf-8").count("\n")
    return f"{lines} lines (at most {MAX_LINES})" if lines > MAX_LINES else None


def local_imports(path: Path) -> list[int]:
    """Lines of imports inside a function with no comment on the line above."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found: list[int] = []
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import | ast.ImportFrom) and not _explained(
                lines, inner.lineno
            ):
                found.append(inner.lineno)
    return sorted(set(found))


def _explained(lines: list[str], lineno: int) -> bool:
    """Whether the comment line above the import (or above the block of imports it stands in,
    blank lines and wrapped names included) says why."""
    at = lineno - 2
    while at >= 0:
        text = lines[at].strip()
        in_block = not text or text.startswith(("from ", "import ", ")")) or text.endswith(",")
        if not in_block:
            break
        at -= 1
    return at >= 0 and lines[at].strip().startswith("#")


def check(package: Path = PACKAGE) -> list[str]:
    findings: list[str] = []
    for path in modules(package):
        name = path.relative_to(package.parent).as_posix()
        if (why := too_long(path)) is not None:
            findings.append(f"{name}: {why}")
        findings.extend(
            f"{name}:{line}: import inside a function (say why in a comment above, or move it "
            "to the top)"
            for line in local_imports(path)
        )
    return findings


def main() -> int:
    findings = check(Path(sys.argv[1]) if len(sys.argv) > 1 else PACKAGE)
    for finding in findings:
        print(finding)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
