"""Speaker-role accuracy on the ambient public cases: from saved recognition (content + voice pitch)
and from the gold text (content only).

`python -m bench.roles [--asr DIR]`, where DIR was written by `scribe eval --save-asr DIR`. A recognised
segment is matched to the gold segment that starts nearest to it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from services.drafter.roles import assign_roles
from services.evaluation.runner import DEFAULT_DIR, case_context, load_asr, load_cases, text_transcript


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--asr", type=Path, required=True, help="directory written by `scribe eval --save-asr`")
    parser.add_argument("--cases", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    right = total = right_text = total_text = 0
    for case in load_cases(args.cases, []):
        if case["mode"] != "ambient":
            continue  # dictation: everyone is the therapist by definition
        ctx = case_context(case)
        segs = load_asr(args.asr, case["id"], case_context(case))
        for seg, role in zip(segs, assign_roles(segs, ctx), strict=True):
            gold = min(case["segments"], key=lambda g: abs(g["at_s"] - seg.start_s))
            right += role == gold["speaker"]
            total += 1
        for role, gold in zip(assign_roles(text_transcript(case), ctx), case["segments"], strict=True):
            right_text += role == gold["speaker"]
            total_text += 1
    print(f"from recognition (content + pitch): {right}/{total} = {right / max(total, 1):.1%}")
    print(f"from gold text (content only):      {right_text}/{total_text} = {right_text / max(total_text, 1):.1%}")


if __name__ == "__main__":
    main()
