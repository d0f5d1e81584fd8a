"""The intervention catalogue and the activity classifier over it. Writes bench/RESULTS.md sections.

- Catalogue size per discipline and per code.
- Leave one entry out: each entry's spoken lines, coded by the sentence model's nearest neighbours with
  that entry removed (does the catalogue generalise from its neighbours, not from the line's own entry?).
- Held out: bench/data/activity_holdout.tsv, activity descriptions written by another author before the
  classifier was tuned, coded as the coder does (phrases and neighbours). Score it once per change of
  the classifier, and never tune on its rows (bench/data/README.md).

Run: `python -m bench.classifier` (add `--no-holdout` while developing).
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter, defaultdict
from pathlib import Path

from bench.results import write_sections
from services.coder import activity
from services.coder.activity import ActivityModel
from services.coder.catalogue import DISCIPLINES

HOLDOUT = Path(__file__).resolve().parent / "data" / "activity_holdout.tsv"


def read_holdout(path: Path = HOLDOUT) -> list[tuple[str, str, str]]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for row in csv.reader((line for line in fh if line.strip() and not line.startswith("#")), delimiter="\t"):
            cpt, discipline, text = row[0].strip(), row[1].strip(), row[2].strip()
            rows.append((cpt, discipline, text))
    return rows


def size_table(model: ActivityModel) -> str:
    entries = model.catalogue.interventions
    codes = sorted({e.cpt for e in entries})
    lines = ["| code | " + " | ".join(DISCIPLINES) + " | entries |", "| --- |" + " --- |" * (len(DISCIPLINES) + 1)]
    for code in codes:
        mine = [e for e in entries if e.cpt == code]
        per = [sum(1 for e in mine if d in e.disciplines) for d in DISCIPLINES]
        lines.append(f"| {code} | " + " | ".join(str(n) for n in per) + f" | {len(mine)} |")
    totals = [sum(1 for e in entries if d in e.disciplines) for d in DISCIPLINES]
    lines.append("| all | " + " | ".join(str(n) for n in totals) + f" | {len(entries)} |")
    return "\n".join(lines)


def leave_one_out(model: ActivityModel) -> tuple[int, int]:
    """Spoken lines coded by their neighbours in the other entries (the line's own entry excluded)."""
    right = total = 0
    entries = model.catalogue.interventions
    for i, entry in enumerate(entries):
        if not entry.spoken or entry.attribute == "group":
            continue
        discipline = entry.disciplines[0]
        allowed = [c for c in model.allowed_codes(discipline) if model.rules.code(c).kind != "group"]
        for vector in model.embed(list(entry.spoken)):
            ev = model.neighbour_evidence(vector, allowed, exclude_entry=i)
            guess = model.decide(ev, discipline, allowed)
            total += 1
            right += int(guess is not None and guess.cpt == entry.cpt)
    return right, total


def score_holdout(model: ActivityModel, rows: list[tuple[str, str, str]]) -> dict[str, object]:
    evidence = []
    for _cpt, discipline, text in rows:
        (ev,) = model.evidence([text], discipline)
        evidence.append(model.decide(ev, discipline))
    per_code: dict[str, Counter[str]] = defaultdict(Counter)
    sure = Counter[str]()
    review = Counter[str]()
    for (cpt, _, _), guess in zip(rows, evidence, strict=True):
        ok = guess is not None and guess.cpt == cpt
        per_code[cpt]["n"] += 1
        per_code[cpt]["right"] += int(ok)
        bucket = review if guess is None or guess.needs_review else sure
        bucket["n"] += 1
        bucket["right"] += int(ok)
        # Would the runner-up have been right? (what a therapist reviewing the flag would see)
        if not ok and guess is not None and guess.runner_up == cpt:
            bucket["runner_up_right"] += 1
    return {"per_code": per_code, "sure": sure, "review": review, "n": len(rows)}


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.0f}%" if b else "-"


def report(model: ActivityModel, holdout: bool) -> str:
    right, total = leave_one_out(model)
    out = [
        "## Intervention catalogue and activity classifier (`python -m bench.classifier`)",
        "",
        "Catalogue entries per code and discipline (an entry may serve more than one discipline):",
        "",
        size_table(model),
        "",
        f"Leave one entry out (each entry's spoken lines, coded by the sentence model's nearest neighbours "
        f"among the other entries): {right}/{total} = {_pct(right, total)}.",
    ]
    if holdout:
        s = score_holdout(model, read_holdout())
        per_code, sure, review = s["per_code"], s["sure"], s["review"]
        assert isinstance(per_code, dict) and isinstance(sure, Counter) and isinstance(review, Counter)
        n = sure["n"] + review["n"]
        right_all = sure["right"] + review["right"]
        out += [
            "",
            f"Held-out descriptions (bench/data/activity_holdout.tsv, another author, written before tuning; "
            f"phrases and neighbours as the coder reads a block): {right_all}/{n} = {_pct(right_all, n)} right.",
            "",
            "| code | descriptions | right |",
            "| --- | --- | --- |",
        ]
        for code in sorted(per_code):
            c = per_code[code]
            out.append(f"| {code} | {c['n']} | {_pct(c['right'], c['n'])} |")
        out += [
            "",
            "| confidence | descriptions | right | runner-up right when wrong |",
            "| --- | --- | --- | --- |",
            f"| sure (billed without review) | {sure['n']} | {_pct(sure['right'], sure['n'])} | "
            f"{sure['runner_up_right']} |",
            f"| `needs_review` (or no guess) | {review['n']} | {_pct(review['right'], review['n'])} | "
            f"{review['runner_up_right']} |",
        ]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-holdout", action="store_true", help="Skip the held-out descriptions.")
    args = parser.parse_args()
    model = activity.install_from_env()
    if model is None:
        raise SystemExit("the sentence model is off (SCRIBE_EMBEDDINGS) or not installed")
    text = report(model, holdout=not args.no_holdout)
    write_sections(text)
    print(text)


if __name__ == "__main__":
    main()
