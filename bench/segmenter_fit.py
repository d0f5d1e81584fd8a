"""Fit the ambient segmenter's costs on the seen ambient cases: `python -m bench.segmenter_fit [--search]`.

The labelling's move costs and evidence weights (services/coder/ambient.py, services/coder/activity.py)
were first set by hand. This scores them on every seen ambient case (tests/data/ambient, the public
cases and tests/data/cases, from their text with each voice at the pitch render.py gives it, so speaker
roles are assigned as from audio; plus the public cases' saved recognition when `--asr DIR` holds it),
and with `--search` tries each cost at 0.5x, 0.75x, 1.33x, 2x and 0 in turn, keeping a change that
raises the objective (codes exact + units exact + block times right - flag errors / 4) by at least 0.5,
for two rounds. A fitted value goes into the code only after the held-out sets (`scribe eval
../shared/eval/unseen --aggregate`, `scribe eval bench/holdout --aggregate`) have been scored with it;
no held-out case is read here.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from proto import scribe_pb2 as pb
from services.coder import activity, ambient
from services.coder.coding import code_draft
from services.coder.rules import load_default_rules
from services.common.export import result_to_dict
from services.drafter.draft import build_draft, load_sentence_model
from services.evaluation.runner import case_context, load_asr, text_transcript
from services.evaluation.score import score_case

ROOT = Path(__file__).resolve().parents[1]
SEEN = [ROOT / "tests" / "data" / "ambient", ROOT.parent / "shared" / "eval" / "public",
        ROOT / "tests" / "data" / "cases"]
# render.py's voices: the patient five semitones above the therapist, anyone else a third voice
PITCH_HZ = {"therapist": 110.0, "patient": 146.8}
OTHER_PITCH_HZ = 210.0
COSTS = [(ambient, n) for n in ("SWITCH", "SWITCH_ANNOUNCED", "SWITCH_NAMED", "SWITCH_LED", "START", "START_ANNOUNCED",
                                "START_LED", "END", "STAY_AFTER_WRAPUP", "EVAL_EXIT", "EVAL_EXIT_ANNOUNCED",
                                "EVAL_EXIT_AFTER_GOALS", "PLAN_WEIGHT", "INTERVIEW_WEIGHT", "DOING_WEIGHT", "EVAL_BASE",
                                "EVAL_DOING", "EVAL_MEASURE", "HANDS_ON_WEIGHT", "CATEGORY_WEIGHT", "DOSE_WEIGHT",
                                "TALKED_ABOUT", "MIN_RUN_EVIDENCE", "MIN_ANNOUNCED_RUN_EVIDENCE",
                                "MAX_SENTENCE_EVIDENCE")] + [
    (activity, n) for n in ("NAME_WEIGHT", "EQUIPMENT_WEIGHT", "VERB_WEIGHT", "NEIGHBOUR_SCALE", "MAX_MARGIN")]
MULTIPLIERS = (0.5, 0.75, 1.33, 2.0, 0.0)
MIN_GAIN = 0.5

Case = tuple[dict[str, Any], pb.DraftUpdate, str]


def voiced_transcript(case: dict[str, Any]) -> list[pb.TranscriptSegment]:
    segments = text_transcript(case)
    for seg, gold in zip(segments, case["segments"], strict=True):
        seg.voice_pitch_hz = PITCH_HZ.get(gold["speaker"], OTHER_PITCH_HZ)
    return segments


def load(asr_dir: Path | None) -> list[Case]:
    load_sentence_model()
    activity.install_from_env()
    out: list[Case] = []
    for directory in SEEN:
        for path in sorted(directory.glob("*.json")):
            case = json.loads(path.read_text())
            if case["mode"] != "ambient":
                continue
            out.append((case, build_draft(case["id"], voiced_transcript(case), case_context(case), is_final=True),
                        "text"))
            if asr_dir is not None and (asr_dir / f"{case['id']}.asr.json").is_file():
                context = case_context(case)
                out.append((case, build_draft(case["id"], load_asr(asr_dir, case["id"], context), context,
                                              is_final=True), "asr"))
    return out


def objective(cases: list[Case]) -> dict[str, float]:
    rules = load_default_rules()
    tot = {"codes": 0.0, "units": 0.0, "times": 0.0, "flag_errors": 0.0}
    for case, draft, _ in cases:
        s = score_case(case, result_to_dict(code_draft(draft, rules)), None, with_wer=False)
        tot["codes"] += s.codes_exact
        tot["units"] += s.units_exact
        tot["times"] += s.times_right / max(1, s.times_total)
        tot["flag_errors"] += s.flags_fp + s.flags_fn
    tot["objective"] = tot["codes"] + tot["units"] + tot["times"] - tot["flag_errors"] / 4
    return tot


def show(label: str, tot: dict[str, float], n: int) -> None:
    print(f"{label}: objective {tot['objective']:.2f}, codes {tot['codes']:.0f}/{n}, units {tot['units']:.0f}/{n}, "
          f"times {tot['times'] / n:.2f}, flag errors {tot['flag_errors']:.0f}", flush=True)


def search(cases: list[Case], rounds: int = 2) -> None:
    best = objective(cases)["objective"]
    for r in range(rounds):
        for module, name in COSTS:
            current = getattr(module, name)
            for mult in MULTIPLIERS:
                setattr(module, name, current * mult)
                tot = objective(cases)
                if tot["objective"] >= best + MIN_GAIN:
                    best = tot["objective"]
                    show(f"  {name} {current:g} -> {current * mult:.3g}", tot, len(cases))
                    break
                setattr(module, name, current)
        show(f"round {r + 1}", objective(cases), len(cases))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--search", action="store_true", help="coordinate search of the costs")
    parser.add_argument("--asr", type=Path, help="saved recognition of the public cases (scribe eval --save-asr)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    cases = load(args.asr)
    show(f"{len(cases)} seen ambient runs, costs as in the code", objective(cases), len(cases))
    if args.search:
        search(cases)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
