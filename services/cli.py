"""`scribe`: dictate (embedded), serve / worker / submit (distributed on Redis), stream / listen (live), eval."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from services.common.auth import redact_url
from services.common.errors import InputError

EXIT_INPUT = 2
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def _fail(message: str) -> None:
    click.echo(f"scribe: error: {message}", err=True)
    sys.exit(EXIT_INPUT)


def _load_context(path: str, mode: str | None) -> Any:
    from services.common.context import load_context_file

    ctx = load_context_file(path)
    if mode:
        ctx.mode = mode
    return ctx


def _check_audio_path(path: str) -> None:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"no such audio file: {path}")
    if p.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes)")


def _print_result(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        from services.render import render_result

        render_result(Console(), result)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log progress (never patient words).")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Ambient scribe for therapy clinics: audio in, a coded SOAP note out."""
    ctx.obj = verbose  # `serve` hands it on to its children
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s")


@cli.command()
@click.argument("audio")
@click.option("--context", "context_path", required=True, help="Session context JSON (payer, goals, ...).")
@click.option("--mode", type=click.Choice(["ambient", "dictation"]), help="Override the context's mode.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--model", "model_path", help="CTranslate2 Whisper model directory (default: bundled tiny.en).")
@click.option("--asr-workers", type=int, default=None, help="Whisper instances (default: one per core, max 2).")
def dictate(audio: str, context_path: str, mode: str | None, as_json: bool, model_path: str | None,
            asr_workers: int | None) -> None:
    """Transcribe, draft and code one recording, in this process (no servers)."""
    from services.common.export import result_to_dict
    from services.ingest.audio import decode_audio
    from services.pipeline import EmbeddedPipeline

    ctx = _load_context(context_path, mode)
    _check_audio_path(audio)
    decode_audio(audio)  # reject bad audio before loading the model

    async def run() -> dict[str, Any]:
        async with EmbeddedPipeline(model_path=model_path, asr_workers=asr_workers) as pipeline:
            return result_to_dict(await pipeline.run_file(audio, ctx))

    _print_result(asyncio.run(run()), as_json)


REDIS_HELP = "Redis URL; prefer setting SCRIBE_REDIS_URL, since a password on a command line shows in `ps`."
_redis_option = click.option("--redis", "redis_url", default=DEFAULT_REDIS, envvar="SCRIBE_REDIS_URL",
                             show_default=True, help=REDIS_HELP)
_redis_wait_option = click.option(
    "--redis-wait", "redis_wait_s", type=click.FloatRange(min=1.0), default=60.0, envvar="SCRIBE_REDIS_WAIT_S",
    show_default=True, help="Seconds to wait at start for Redis to answer before exiting with code 3.")
_metrics_host_option = click.option(
    "--metrics-host", default="127.0.0.1", envvar="SCRIBE_METRICS_HOST", show_default=True,
    help="asr/drafter/coder: address of /metrics, /healthz, /readyz (0.0.0.0 in a container).")
_buffer_option = click.option(
    "--buffer-mb", type=click.FloatRange(min=1.0), default=256.0, envvar="SCRIBE_INGEST_BUFFER_MB",
    show_default=True, help="ingest: audio held while Redis is away; past it new audio gets 503.")


@cli.command()
@_redis_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the ingest API listens on.")
@click.option("--port", default=8750, show_default=True)
@click.option("--asr-workers", type=int, default=2, show_default=True)
@click.option("--model", "model_path", help="CTranslate2 Whisper model directory.")
@_redis_wait_option
@_buffer_option
@_metrics_host_option
@click.option("--metrics-port", type=click.IntRange(min=0, max=65535), default=0, show_default=True,
              help="First metrics port of asr, drafter and coder (consecutive); 0: the API port + 1.")
@click.pass_obj
def serve(verbose: bool, redis_url: str, host: str, port: int, asr_workers: int, model_path: str | None,
          redis_wait_s: float, buffer_mb: float, metrics_host: str, metrics_port: int) -> None:
    """Run ingest, asr, drafter and coder as separate processes joined by Redis Streams."""
    from services.runner import WorkerOptions, serve_processes

    opts = WorkerOptions(redis_url, host, port, model_path, redis_wait_s=redis_wait_s,
                         buffer_bytes=int(buffer_mb * 2**20), metrics_host=metrics_host, metrics_port=metrics_port)
    sys.exit(serve_processes(opts, asr_workers, verbose=bool(verbose)))


@cli.command()
@click.argument("stage", type=click.Choice(["ingest", "asr", "drafter", "coder"]))
@_redis_option
@click.option("--name", "consumer", default=None, help="Consumer name in the group (default: stage-pid).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8750, show_default=True)
@click.option("--model", "model_path", help="CTranslate2 Whisper model directory (asr).")
@click.option("--claim-idle", type=float, default=30.0, show_default=True,
              help="Seconds before another worker's unacked entry is taken over.")
@_redis_wait_option
@_buffer_option
@_metrics_host_option
@click.option("--metrics-port", type=click.IntRange(min=0, max=65535), default=0, envvar="SCRIBE_METRICS_PORT",
              show_default=True, help="asr/drafter/coder: port of /metrics, /healthz, /readyz (0: none). "
              "ingest serves them on --port.")
def worker(stage: str, redis_url: str, consumer: str | None, host: str, port: int, model_path: str | None,
           claim_idle: float, redis_wait_s: float, buffer_mb: float, metrics_host: str, metrics_port: int) -> None:
    """Run one stage as a process (what `serve` starts; use it to scale a stage across machines).

    Exits 2 on a configuration error at start (a metrics port taken too), 3 when Redis did not answer
    within --redis-wait; a Redis restart while it runs is waited out."""
    from services.runner import WorkerOptions, run_worker

    opts = WorkerOptions(redis_url, host, port, model_path, claim_idle, redis_wait_s, int(buffer_mb * 2**20),
                         metrics_host, metrics_port)
    sys.exit(run_worker(stage, consumer, opts))


@cli.command()
@click.argument("audio")
@click.option("--context", "context_path", required=True)
@click.option("--mode", type=click.Choice(["ambient", "dictation"]))
@click.option("--url", default="http://127.0.0.1:8750", envvar="SCRIBE_URL", show_default=True)
@click.option("--token", envvar="SCRIBE_TOKEN", help="API token (default: the one `scribe serve` wrote).")
@click.option("--json", "as_json", is_flag=True)
@click.option("--timeout", type=float, default=600.0, show_default=True)
def submit(audio: str, context_path: str, mode: str | None, url: str, token: str | None, as_json: bool,
           timeout: float) -> None:
    """Send a recording through a running `scribe serve` and print the result."""
    from services.client import submit_file
    from services.common.context import context_to_dict

    ctx = _load_context(context_path, mode)
    _check_audio_path(audio)
    result = asyncio.run(submit_file(url, token, Path(audio), context_to_dict(ctx), timeout))
    _print_result(result, as_json)


@cli.command()
@click.argument("audio")
@click.option("--context", "context_path", required=True)
@click.option("--mode", type=click.Choice(["ambient", "dictation"]))
@click.option("--speed", type=float, default=1.0, show_default=True, help="Play the file this many times real time.")
@click.option("--url", default="http://127.0.0.1:8750", envvar="SCRIBE_URL", show_default=True)
@click.option("--token", envvar="SCRIBE_TOKEN", help="API token (default: the one `scribe serve` wrote).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the final result as JSON on stdout (nothing else; the live view goes to stderr).")
def stream(audio: str, context_path: str, mode: str | None, speed: float, url: str, token: str | None,
           as_json: bool) -> None:
    """Play a recording into a running `scribe serve` over WebRTC, as a microphone would, printing
    partial and committed transcript as they come, then the final codes."""
    from services.common.auth import load_token
    from services.common.context import context_to_dict
    from services.ingest.audio import decode_audio
    from services.ingest.live_view import stream_file

    if speed <= 0:
        raise InputError("--speed must be positive")
    ctx = _load_context(context_path, mode)
    _check_audio_path(audio)
    pcm = decode_audio(audio)
    # With --json, stdout carries the one JSON object only; the live view goes to stderr.
    console = Console(stderr=True) if as_json else Console()
    result = asyncio.run(stream_file(url, token or load_token(), pcm, context_to_dict(ctx), speed, console))
    _print_result(result, as_json)


@cli.command()
@click.argument("session_id")
@click.option("--url", default="http://127.0.0.1:8750", envvar="SCRIBE_URL", show_default=True)
@click.option("--token", envvar="SCRIBE_TOKEN", help="API token (default: the one `scribe serve` wrote).")
def listen(session_id: str, url: str, token: str | None) -> None:
    """Show a live session's transcript, draft and codes as they change (until its final codes)."""
    from services.common.auth import load_token
    from services.ingest.live_view import listen_session

    asyncio.run(listen_session(url, token or load_token(), session_id, Console()))


@cli.command()
@click.argument("session_id")
@click.argument("kind")
@click.option("--cpt", default="", help="The code the flag concerns (omit for a visit-level flag).")
@click.option("--reason", required=True, help="Why the flag does not apply; kept with the note.")
@click.option("--url", default="http://127.0.0.1:8750", envvar="SCRIBE_URL", show_default=True)
@click.option("--token", envvar="SCRIBE_TOKEN")
def dismiss(session_id: str, kind: str, cpt: str, reason: str, url: str, token: str | None) -> None:
    """Dismiss a documentation flag of a session, with the therapist's reason."""
    from services.client import dismiss_flag

    body = asyncio.run(dismiss_flag(url, token, session_id, kind, cpt, reason))
    click.echo(json.dumps(body, indent=2))


@cli.command()
@click.option("--redis", "redis_url", default=DEFAULT_REDIS, envvar="SCRIBE_REDIS_URL", show_default=True)
def status(redis_url: str) -> None:
    """Backlog, lag, workers and failures of each stage (for whoever watches the clinic's throughput)."""
    import redis.exceptions
    from rich.table import Table

    from services.ops import read_status

    try:
        st = asyncio.run(read_status(redis_url))
    except redis.exceptions.ConnectionError:
        raise InputError(f"cannot connect to Redis at {redact_url(redis_url)}") from None
    table = Table(title="scribe stages")
    for col in ("stream", "group", "waiting (lag)", "in work (pending)", "workers", "dead letters"):
        table.add_column(col)
    for s in st.stages:
        workers = ", ".join(f"{name} ({pending} pending, idle {idle:.0f}s)" for name, pending, idle in s.consumers)
        table.add_row(s.stream, s.group, "-" if s.lag is None else str(s.lag), str(s.pending), workers or "none",
                      str(s.dead_letters))
    console = Console()
    console.print(table)
    if st.errors_by_category:
        console.print("recent errors: " + ", ".join(f"{k} x{v}" for k, v in st.errors_by_category.most_common()))
    else:
        console.print("no recent errors")


@cli.command()
@_redis_option
@click.option("--token", envvar="SCRIBE_TOKEN", help="API token, for the workers' /metrics (default: the one "
              "`scribe serve` wrote; without one, Redis figures only).")
@click.option("--target", "targets", multiple=True, metavar="STAGE=URL",
              help="Scrape these instead of the endpoints workers advertise in Redis (repeatable).")
@click.option("--once", is_flag=True, help="Print one frame (two samples a second apart) and exit.")
@click.option("--interval", type=click.FloatRange(min=0.2), default=1.0, show_default=True)
def top(redis_url: str, token: str | None, targets: tuple[str, ...], once: bool, interval: float) -> None:
    """Live throughput, backlog and latency per service and per clinic (no transcript text)."""
    import redis.exceptions

    from services.top import Endpoint, run_top

    if token is None:
        from services.common.auth import token_path

        token = token_path().read_text().strip() if token_path().is_file() else None
    given = []
    for t in targets:
        stage, sep, url = t.partition("=")
        if not sep or not url.startswith(("http://", "https://")):
            raise InputError(f"--target wants STAGE=URL, got {t!r}")
        given.append(Endpoint(url, stage, url.rstrip("/")))
    try:
        run_top(redis_url, token, given or None, once, interval)
    except redis.exceptions.ConnectionError:
        raise InputError(f"cannot connect to Redis at {redact_url(redis_url)}") from None


@cli.command()
@click.argument("session_id")
@_redis_option
def purge(session_id: str, redis_url: str) -> None:
    """Delete everything of a session from Redis, then scan again and show that nothing is left."""
    import redis.exceptions

    from services.purge import purge_session

    try:
        report = asyncio.run(purge_session(redis_url, session_id))
    except redis.exceptions.ConnectionError:
        raise InputError(f"cannot connect to Redis at {redact_url(redis_url)}") from None
    gone = report.deleted
    click.echo(f"deleted: {sum(len(v) for v in gone.entries.values())} stream entries, {len(gone.keys)} keys, "
               f"{len(gone.registries)} registry records of session {report.session_id}")
    for line in gone.describe():
        click.echo(f"  {line}")
    after, sid = report.after, report.session_id
    click.echo(f"checked again: {len(after.streams_checked)} streams ({after.entries_checked} entries read), "
               f"keys session:{sid}:*, scribe:open, scribe:finished; files: the scribe keeps none per session")
    if not report.clean:
        click.echo("scribe: error: still in Redis after the purge (written meanwhile?): "
                   + "; ".join(after.describe()), err=True)
        sys.exit(1)
    click.echo(f"nothing of session {sid} is left in Redis")


@cli.command(name="eval")
@click.argument("cases_dir", default=None, required=False)
@click.option("--json", "json_path", help="Write the figures to this file.")
@click.option("--from-text", is_flag=True, help="Skip ASR: draft and code the gold segments' text.")
@click.option("--case", "only", multiple=True, help="Only these case ids.")
@click.option("--model", "model_path", help="CTranslate2 Whisper model directory.")
@click.option("--save-asr", "save_asr_dir", help="Keep each case's recognised segments in this directory.")
@click.option("--from-asr", "from_asr_dir", help="Skip ASR: draft and code the segments --save-asr kept.")
@click.option("--aggregate", is_flag=True,
              help="Print and save only the summaries (all, ambient, dictation): how a held-out set is read.")
def evaluate(cases_dir: str | None, json_path: str | None, from_text: bool, only: tuple[str, ...],
             model_path: str | None, save_asr_dir: str | None, from_asr_dir: str | None, aggregate: bool) -> None:
    """Run every case of a directory (default: ../shared/eval/public) and print the scores."""
    from services.evaluation.runner import run_eval

    sys.exit(run_eval(cases_dir, json_path, from_text, list(only), model_path, save_asr_dir, from_asr_dir,
                      per_case=not aggregate))


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except InputError as exc:
        _fail(str(exc))
    except click.exceptions.Abort:
        _fail("aborted")
    except click.ClickException as exc:
        _fail(exc.format_message())
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
