"""Readable terminal output of a result (the non-JSON form of `scribe dictate`)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from services.common.export import SECTIONS


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m:02d}:{s:02d}"


def render_result(console: Console, result: dict[str, Any]) -> None:
    console.rule("[bold]SOAP note (draft, for the therapist to review and sign)")
    if result.get("ended"):  # not stopped by the client: the note may miss the end of the session
        console.print(f"[bold yellow]{result['ended']['message']}[/]")
    for section in SECTIONS:
        console.print(f"[bold cyan]{section.capitalize()}[/]")
        items = result["note"][section]
        if not items:
            console.print("  [dim](nothing documented)[/]")
        for item in items:
            spans = ", ".join(f"{_clock(e['start_s'])}-{_clock(e['end_s'])}" for e in item["evidence"])
            review = " [bold yellow](check: unsure measure)[/]" if item.get("needs_review") else ""
            console.print(f"  - {item['text']}{review} [dim][{spans}][/]")
    table = Table(title=f"Suggested codes ({result['billing_method']} units)")
    for col in ("CPT", "start", "stop", "min", "units", "modifiers", "rationale"):
        table.add_column(col)
    for c in result["codes"]:
        table.add_row(
            c["cpt"], c["start"] or "-", c["stop"] or "-", str(c["minutes"]), str(c["units"]),
            " ".join(c["modifiers"]) or "-", c["rationale"],
        )
    console.print(table)
    if result["flags"]:
        console.print("[bold red]Documentation gaps[/]")
        for f in result["flags"]:
            if f.get("dismissed"):
                console.print(f"  - [dim]{f['kind']} {f['cpt'] or ''}: dismissed ({f['dismiss_reason']})[/]")
            else:
                console.print(f"  - [red]{f['kind']}[/] {f['cpt'] or ''}: {f['message']}")
    else:
        console.print("[green]No documentation gaps found.[/]")
