"""ASR with and without the session-vocabulary prompt: WER and key-term recall per case.

`python -m bench.prompt_bias` writes bench/PROMPT.md. Key terms are matched in the written transcript only
(no note), so this isolates what the prompt does to recognition.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from services.asr.engine import WhisperEngine
from services.common.vocabulary import asr_prompt, to_written
from services.evaluation.runner import DEFAULT_DIR, case_context, load_cases
from services.evaluation.score import contains, word_error_rate
from services.ingest.audio import decode_audio, pcm_to_float
from services.ingest.vad import cut_utterances


def main() -> None:
    cases_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    engine = WhisperEngine()
    rows = []
    for case in load_cases(cases_dir, []):
        utts = cut_utterances(decode_audio(cases_dir / f"{case['id']}.flac"))
        ref = " ".join(s["text"] for s in case["segments"])
        row = {"case": case["id"]}
        for label, prompt in (("none", ""), ("prompt", asr_prompt(case_context(case)))):
            t0 = time.perf_counter()
            hyp = " ".join(to_written(engine.transcribe(pcm_to_float(u.pcm), prompt=prompt).text) for u in utts)
            row[f"{label}_s"] = time.perf_counter() - t0
            row[f"{label}_wer"] = word_error_rate(ref, hyp)
            terms = case["gold"]["key_terms"]
            row[f"{label}_terms"] = sum(contains(hyp, t) for t in terms) / len(terms)
        rows.append(row)
        print(json.dumps(row))
    n = len(rows)
    lines = ["# Recognition with and without the vocabulary prompt", "",
             "`python -m bench.prompt_bias`: tiny.en int8, beam 5, one thread, VAD utterances of the public cases.", "",
             "| case | WER none | WER prompt | key terms none | key terms prompt |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['none_wer']:.3f} | {r['prompt_wer']:.3f} | {r['none_terms']:.0%} | "
                     f"{r['prompt_terms']:.0%} |")
    mean = {k: sum(r[k] for r in rows) / n for k in ("none_wer", "prompt_wer", "none_terms", "prompt_terms")}
    lines.append(f"| mean | {mean['none_wer']:.3f} | {mean['prompt_wer']:.3f} | {mean['none_terms']:.0%} | "
                 f"{mean['prompt_terms']:.0%} |")
    Path(__file__).with_name("PROMPT.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
