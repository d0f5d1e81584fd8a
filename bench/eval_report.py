"""Write the `scribe eval` figures (the JSON files `make eval` writes) into bench/RESULTS.md.

`python -m bench.eval_report bench/eval-audio.json bench/eval-text.json ...`: one row per file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.results import write_sections


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0%}"


def _row(name: str, source: str, o: dict[str, Any]) -> str:
    by = o["fact_recall_by_section"]
    sections = "/".join(_pct(by.get(k)) for k in ("subjective", "objective", "assessment", "plan"))
    wer = "-" if o["wer"] is None else f"{o['wer']:.3f}"
    rtf = "-" if o["rtf"] is None else f"{o['rtf']:.4f}"
    flags = "-" if o["flag_precision"] is None else f"{o['flag_precision']:.2f} / {o['flag_recall']:.2f}"
    return (f"| {name} | {source} | {o['cases']} | {wer} | {_pct(o['key_term_recall'])} | "
            f"{_pct(o['code_set_exact'])} | {_pct(o['units_exact'])} | {_pct(o['times_within_1_min'])} | "
            f"{_pct(o['modifiers_exact'])} | {_pct(o['fact_recall'])} | {sections} | {o['leakage']} | "
            f"{flags} | {_pct(o['evidence_coverage'])} | {rtf} |")


def main(paths: list[str]) -> None:
    lines = [
        "## Evaluation (`scribe eval`)",
        "",
        "Each row is one `scribe eval` run (its JSON file), then its ambient and dictation cases apart; facts "
        "per section are subjective/objective/assessment/plan. Seen: the public cases and our own (tuned with "
        "them in view). Unseen: `../shared/eval/unseen` and `bench/holdout`, read only in aggregate.",
        "",
        "| run | source | cases | WER | key terms | codes exact | units exact | times ±1 min | modifiers | "
        "facts | facts S/O/A/P | leaks | flags P / R | evidence | RTF |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for path in paths:
        data = json.loads(Path(path).read_text())
        rows = [("", data["overall"])]
        rows += [(f" ({mode})", figures) for mode, figures in sorted(data.get("by_mode", {}).items())]
        for suffix, o in rows:
            lines.append(_row(f"{Path(path).name}{suffix}", data["source"], o))
    report = "\n".join(lines) + "\n"
    write_sections(report)
    print(report)


if __name__ == "__main__":
    main(sys.argv[1:])
