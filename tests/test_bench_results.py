"""Benchmarks share bench/RESULTS.md: each replaces only its own sections."""

from pathlib import Path

from bench.results import write_sections


def test_sections_replace_their_namesakes_and_keep_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\nold intro\n\n## Live capture\n\nlive v1\n\n## Evaluation\n\neval v1\n")
    write_sections("## Evaluation\n\neval v2\n", path)
    text = path.read_text()
    assert "eval v2" in text and "eval v1" not in text
    assert "live v1" in text and "old intro" in text
    write_sections("# Benchmark results\n\nnew intro\n\n## Drafting\n\nd1\n", path)
    text = path.read_text()
    assert "new intro" in text and "old intro" not in text
    assert all(s in text for s in ("d1", "live v1", "eval v2"))
    assert text.count("## ") == 3
