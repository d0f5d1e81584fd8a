"""bench/RESULTS.md is shared by several benchmarks: each replaces its own "## " sections only."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
_SECTION = re.compile(r"(?ms)^## (.+?)\n.*?(?=^## |\Z)")


def write_sections(report: str, path: Path = RESULTS) -> None:
    """Put the report's "## " sections into the file, replacing same-named ones and keeping the rest."""
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    new = {m.group(1): m.group(0).rstrip("\n") for m in _SECTION.finditer(report)}
    head = old.split("\n## ", 1)[0].rstrip("\n")
    kept = [m.group(0).rstrip("\n") for m in _SECTION.finditer(old) if m.group(1) not in new]
    intro = report.split("\n## ", 1)[0].rstrip("\n") if not report.startswith("## ") else ""
    parts = [intro or head, *[*new.values()], *kept]
    path.write_text("\n\n".join(p for p in parts if p) + "\n")
