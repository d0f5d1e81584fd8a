"""Writes scribe.json, the provisioned dashboard (run it after changing a panel; tests check the result
against the metric registry): python deploy/grafana/make_dashboard.py"""

from __future__ import annotations

import json
from pathlib import Path

RATE = "5m"
PANELS = [  # (title, unit, [(legend, PromQL)])
    ("Sessions open, per clinic", "short", [("{{clinic}}", "sum by (clinic) (scribe_sessions_open)")]),
    ("Audio in (seconds of audio per second), per clinic", "short",
     [("{{clinic}}", f"sum by (clinic) (rate(scribe_audio_seconds_in_total[{RATE}]))")]),
    ("Entries handled per second, per stage and stream", "ops",
     [("{{stage}} ← {{stream}}", f"sum by (stage, stream) (rate(scribe_chunks_in_total[{RATE}]))")]),
    ("Entries added per second, per stream", "ops",
     [("{{stage}} → {{stream}}", f"sum by (stage, stream) (rate(scribe_chunks_out_total[{RATE}]))")]),
    ("Consumer-group lag (not yet delivered)", "short",
     [("{{stream}} / {{group}}", "max by (stream, group) (scribe_stream_lag)")]),
    ("Pending entries (delivered, not acked)", "short",
     [("{{stream}} / {{group}}", "max by (stream, group) (scribe_stream_pending)")]),
    ("Stream length (incl. dead letters)", "short", [("{{stream}}", "max by (stream) (scribe_stream_length)")]),
    ("ASR real-time factor", "short",
     [("all workers", f"sum(rate(scribe_asr_busy_seconds_total[{RATE}])) / "
                      f"sum(rate(scribe_asr_audio_seconds_total[{RATE}]))"),
      ("p95 per utterance", f"histogram_quantile(0.95, sum by (le) (rate(scribe_asr_realtime_factor_bucket[{RATE}])))"),
      ("models loaded", "sum(scribe_asr_model_loaded)")]),
    ("Speech end → committed segment", "s",
     [(f"p{q} {{{{kind}}}}", f"histogram_quantile(0.{q}, sum by (le, kind) "
                             f"(rate(scribe_commit_latency_seconds_bucket[{RATE}])))") for q in (50, 95)]),
    ("Draft latency", "s",
     [(f"p{q}", f"histogram_quantile(0.{q}, sum by (le) (rate(scribe_draft_seconds_bucket[{RATE}])))")
      for q in (50, 95)]),
    ("Coding latency", "s",
     [(f"p{q}", f"histogram_quantile(0.{q}, sum by (le) (rate(scribe_coding_seconds_bucket[{RATE}])))")
      for q in (50, 95)]),
    ("Time to handle one entry (p95), per stage", "s",
     [("{{stage}} ← {{stream}}", f"histogram_quantile(0.95, sum by (le, stage, stream) "
                                 f"(rate(scribe_handle_seconds_bucket[{RATE}])))")]),
    ("Notes per hour", "short", [("{{ended}}", "sum by (ended) (increase(scribe_notes_final_total[1h]))")]),
    ("Errors per second, by stage and kind", "ops",
     [("{{stage}}: {{kind}}", f"sum by (stage, kind) (rate(scribe_errors_total[{RATE}]))")]),
]


def dashboard() -> dict:
    panels = []
    for i, (title, unit, targets) in enumerate(PANELS):
        panels.append({
            "id": i + 1, "type": "timeseries", "title": title,
            "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
            "datasource": {"type": "prometheus", "uid": "scribe-prometheus"},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": chr(ord("A") + j), "expr": expr, "legendFormat": legend,
                         "datasource": {"type": "prometheus", "uid": "scribe-prometheus"}}
                        for j, (legend, expr) in enumerate(targets)],
        })
    return {"uid": "scribe-ops", "title": "Scribe operations", "tags": ["scribe"], "timezone": "browser",
            "schemaVersion": 39, "version": 1, "refresh": "10s", "time": {"from": "now-6h", "to": "now"},
            "panels": panels}


if __name__ == "__main__":
    out = Path(__file__).parent / "dashboards" / "scribe.json"
    out.write_text(json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n")
