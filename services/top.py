"""`scribe top`: a live view of the deployment, per service and per clinic, refreshed each second.

Two sources, both free of patient words: Redis metadata (consumer-group lag and pending, stream counters,
the open-session registry, the workers' advertised endpoints) and each worker's /metrics (throughput
counters and latency histograms). Session ids and transcript text are never read, so never shown.
Percentiles are computed from the histograms' buckets as Prometheus' histogram_quantile does, over
everything since each worker started.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Group
from rich.table import Table

from services.common import keys
from services.ops import ClusterStatus, read_status

STAGES = ("ingest", "asr", "drafter", "coder")
INPUT = {"asr": keys.UTTERANCES, "drafter": keys.SEGMENTS, "coder": keys.DRAFTS}  # each stage's main stream
LATENCIES: tuple[tuple[str, str, dict[str, str]], ...] = (  # (row label, histogram, labels it must carry)
    ("commit, live (speech end → segment)", "scribe_commit_latency_seconds", {"kind": "live"}),
    ("commit, upload (sent → segment)", "scribe_commit_latency_seconds", {"kind": "upload"}),
    ("draft", "scribe_draft_seconds", {}),
    ("coding", "scribe_coding_seconds", {}),
    ("asr real-time factor", "scribe_asr_realtime_factor", {}),
)
SCRAPE_TIMEOUT_S = 2.0

Labels = frozenset[tuple[str, str]]


@dataclass
class Endpoint:
    name: str
    stage: str
    url: str
    clinic: str = "default"


@dataclass
class Snapshot:
    at: float
    status: ClusterStatus
    endpoints: list[Endpoint]
    open_by_clinic: dict[str, int]
    # name -> labels -> value, summed over every worker that answered
    samples: dict[str, dict[Labels, float]] = field(default_factory=dict)
    unreachable: list[str] = field(default_factory=list)  # endpoints that did not answer

    def total(self, name: str, **labels: str) -> float:
        want = set(labels.items())
        return sum(v for ls, v in self.samples.get(name, {}).items() if want <= ls)

    def by_label(self, name: str, label: str, **labels: str) -> dict[str, float]:
        want = set(labels.items())
        out: dict[str, float] = defaultdict(float)
        for ls, v in self.samples.get(name, {}).items():
            if want <= ls:
                out[dict(ls).get(label, "")] += v
        return out


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


async def _endpoints(r: aioredis.Redis) -> list[Endpoint]:
    out = []
    async for key in r.scan_iter(match=keys.endpoint("*"), count=200):
        raw = await r.get(key)
        if raw is None:
            continue
        try:
            rec = json.loads(raw)
            out.append(Endpoint(_text(key).removeprefix(keys.endpoint("")), str(rec["stage"]), str(rec["url"]),
                                str(rec.get("clinic") or "default")))
        except (ValueError, KeyError, TypeError):
            continue
    return sorted(out, key=lambda e: (e.stage, e.name))


async def _open_by_clinic(r: aioredis.Redis, endpoints: list[Endpoint]) -> dict[str, int]:
    """Open sessions counted per clinic of the ingest holding them (its id starts with its worker name);
    only the holder's id is read, never the session id beyond counting."""
    clinics = {e.name: e.clinic for e in endpoints if e.stage == "ingest"}
    counts: dict[str, int] = defaultdict(int)
    for holder in (await r.hgetall(keys.OPEN_SESSIONS)).values():
        holder_id = _text(holder)
        name = next((n for n in clinics if holder_id.startswith(f"{n}-")), None)
        counts[clinics[name] if name else "default"] += 1
    return dict(counts)


async def _scrape(session: aiohttp.ClientSession, endpoint: Endpoint, token: str
                  ) -> dict[str, dict[Labels, float]] | None:
    try:
        async with session.get(f"{endpoint.url}/metrics", headers={"Authorization": f"Bearer {token}"},
                               timeout=aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT_S)) as resp:
            if resp.status != 200:
                return None
            text = await resp.text()
    except (aiohttp.ClientError, OSError, TimeoutError):
        return None
    out: dict[str, dict[Labels, float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith("scribe_"):
                out[s.name][frozenset(s.labels.items())] = s.value
    return out


async def snapshot(redis_url: str, token: str | None, targets: list[Endpoint] | None = None) -> Snapshot:
    r = aioredis.Redis.from_url(redis_url)
    try:
        status = await read_status(redis_url)
        endpoints = (targets or []) + [e for e in await _endpoints(r) if not targets]
        open_by_clinic = await _open_by_clinic(r, endpoints)
    finally:
        await r.aclose()
    snap = Snapshot(time.monotonic(), status, endpoints, open_by_clinic)
    if token and endpoints:
        async with aiohttp.ClientSession() as session:
            scraped = await asyncio.gather(*(_scrape(session, e, token) for e in endpoints))
        for endpoint, got in zip(endpoints, scraped, strict=True):
            if got is None:
                snap.unreachable.append(endpoint.name)
                continue
            for name, series in got.items():
                mine = snap.samples.setdefault(name, {})
                for labels, value in series.items():
                    # gauges of stream state are sampled by every worker: keep one, not their sum
                    if name.startswith("scribe_stream_"):
                        mine[labels] = max(mine.get(labels, 0.0), value)
                    else:
                        mine[labels] = mine.get(labels, 0.0) + value
    return snap


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """histogram_quantile over cumulative bucket counts {upper bound: count} (linear within a bucket)."""
    if not buckets:
        return None
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):
                return lower  # beyond the largest finite bound: report that bound, as Prometheus does
            width = count - below
            return lower + (bound - lower) * ((rank - below) / width if width else 1.0)
        lower, below = bound, count
    return lower


def _buckets(snap: Snapshot, name: str, **labels: str) -> dict[float, float]:
    return {float(le): v for le, v in snap.by_label(f"{name}_bucket", "le", **labels).items()}


def _rate(now: Snapshot, before: Snapshot | None, name: str, **labels: str) -> float | None:
    if before is None or now.at <= before.at or name not in now.samples:
        return None
    return max(0.0, now.total(name, **labels) - before.total(name, **labels)) / (now.at - before.at)


def _fmt(v: float | None, unit: str = "", digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}{unit}"


def _seconds(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


def render(now: Snapshot, before: Snapshot | None) -> Group:
    """One frame: services, clinics, latencies. Figures only; nothing a session contains."""
    stages = {s.group: s for s in now.status.stages if s.stream == INPUT.get(s.group)}
    services = Table(title="services", title_justify="left")
    for col in ("service", "workers", "sessions live", "in /s", "out /s", "backlog (lag)", "in work", "dead", "p50",
                "p95"):
        services.add_column(col, justify="left" if col == "service" else "right")
    for stage in STAGES:
        workers = sum(1 for e in now.endpoints if e.stage == stage)
        st = stages.get(stage)
        if st is not None:
            workers = max(workers, len(st.consumers))
        handle = _buckets(now, "scribe_handle_seconds", stage=stage, stream=INPUT.get(stage, keys.SESSIONS))
        in_rate = (_rate(now, before, "scribe_audio_seconds_in_total") if stage == "ingest"
                   else _rate(now, before, "scribe_chunks_in_total", stage=stage))
        services.add_row(
            stage, str(workers), str(sum(now.open_by_clinic.values())) if stage == "ingest" else "-",
            _fmt(in_rate, " s audio" if stage == "ingest" else ""),
            _fmt(_rate(now, before, "scribe_chunks_out_total", stage=stage)),
            "-" if st is None or st.lag is None else str(st.lag),
            "-" if st is None else str(st.pending),
            "-" if st is None else str(st.dead_letters),
            _seconds(quantile(0.5, handle)), _seconds(quantile(0.95, handle)))

    clinics = Table(title="clinics", title_justify="left")
    for col in ("clinic", "sessions live", "audio in (s/s)", "sessions started"):
        clinics.add_column(col, justify="left" if col == "clinic" else "right")
    started = now.by_label("scribe_sessions_started_total", "clinic")
    names = sorted(set(now.open_by_clinic) | set(started) | {"default"})
    for clinic in names:
        clinics.add_row(clinic, str(now.open_by_clinic.get(clinic, 0)),
                        _fmt(_rate(now, before, "scribe_audio_seconds_in_total", clinic=clinic)),
                        str(int(started.get(clinic, 0))) if started else "-")

    latency = Table(title="latency (since each worker started)", title_justify="left")
    for col in ("what", "p50", "p95", "p99", "count"):
        latency.add_column(col, justify="left" if col == "what" else "right")
    for label, name, labels in LATENCIES:
        b = _buckets(now, name, **labels)
        show = (lambda v: _fmt(v, "x")) if name == "scribe_asr_realtime_factor" else _seconds
        latency.add_row(label, show(quantile(0.5, b)), show(quantile(0.95, b)), show(quantile(0.99, b)),
                        str(int(now.total(f"{name}_count", **labels))) if f"{name}_count" in now.samples else "-")

    notes_rate = _rate(now, before, "scribe_notes_final_total")
    errors = now.by_label("scribe_errors_total", "kind")
    footer = (f"notes final: {int(now.total('scribe_notes_final_total'))} "
              f"({_fmt(None if notes_rate is None else notes_rate * 3600, '/h', 0)}); "
              f"errors: {', '.join(f'{k} x{int(v)}' for k, v in sorted(errors.items()) if v) or 'none'}; "
              f"workers reporting: {len(now.endpoints) - len(now.unreachable)}/{len(now.endpoints)}")
    if not now.endpoints:
        footer += " (no worker advertises /metrics: Redis figures only)"
    return Group(services, clinics, latency, footer)


async def frames(redis_url: str, token: str | None, targets: list[Endpoint] | None, interval_s: float
                 ) -> Any:
    """Snapshots, one per interval, each with the one before it (for rates)."""
    before: Snapshot | None = None
    while True:
        now = await snapshot(redis_url, token, targets)
        yield now, before
        before = now
        await asyncio.sleep(interval_s)


def run_top(redis_url: str, token: str | None, targets: list[Endpoint] | None, once: bool,
            interval_s: float = 1.0) -> None:
    from rich.console import Console
    from rich.live import Live

    console = Console()

    async def one() -> None:
        before = await snapshot(redis_url, token, targets)
        await asyncio.sleep(interval_s)  # two samples: rates need an interval
        console.print(render(await snapshot(redis_url, token, targets), before))

    async def live() -> None:
        with Live(console=console, auto_refresh=False, screen=False) as view:
            async for now, before in frames(redis_url, token, targets, interval_s):
                view.update(render(now, before), refresh=True)

    asyncio.run(one() if once else live())
