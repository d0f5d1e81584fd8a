"""Malformed rules files give a RulesError naming the file and the line (or the entry's key)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from services.coder.rules import DATA_DIR, load_rules
from services.common.errors import RulesError


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    shutil.copytree(DATA_DIR, tmp_path, dirs_exist_ok=True)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _line_of(path: Path, needle: str) -> int:
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return lineno
    raise AssertionError(needle)


def test_packaged_rules_load() -> None:
    rules = load_rules()
    assert {"medicare", "medicaid", "commercial"} <= set(rules.payers)
    assert rules.lexicon.services["97140"].heads.found("manual")


@pytest.mark.parametrize("name, old, new, needle", [
    ("payers.toml", 'billing_method = "cms"\nmethod_fixed = true', 'billing_method = "cms\nmethod_fixed = true',
     'billing_method = "cms'),
    ("codes.toml", 'timed = true\ndiscipline = ["PT"]', 'timed = maybe\ndiscipline = ["PT"]', "timed = maybe"),
    ("lexicon.toml", "[services.97112]", "[services.97112", "[services.97112"),
])
def test_toml_syntax_error_names_file_and_line(data_dir: Path, name: str, old: str, new: str,
                                               needle: str) -> None:
    path = data_dir / name
    _edit(path, old, new)
    with pytest.raises(RulesError) as info:
        load_rules(data_dir)
    message = str(info.value)
    assert str(path) in message and "not valid TOML" in message
    m = re.search(r"line (\d+)", message)
    assert m is not None, message
    assert int(m.group(1)) == _line_of(path, needle)


@pytest.mark.parametrize("name, old, new, key", [
    ("payers.toml", 'billing_method = "per_code"', 'billing_method = "per_minute"', "[payers.commercial]"),
    ("payers.toml", 'distinct_modifier = "XU"', 'distinct_modifier = "XX"', "[payers.medicare]"),
    ("payers.toml", 'SLP = "GN"', "", "[discipline_modifiers]"),
    ("codes.toml", 'kind = "group"', 'kind = "class"', "[codes.97150]"),
    ("codes.toml", 'complexity = "high"', 'complexity = "extreme"', "[codes.97163]"),
    ("codes.toml", 'discipline = ["SLP"]', 'discipline = ["ST"]', "[codes.92507]"),
    ("lexicon.toml", "[services.97535]", "[services.97999]", "[services.97999]"),
    ("lexicon.toml", 'names = ["gait training"', 'names = [97116, "gait training"', "[services.97116]"),
])
def test_bad_entry_names_file_key_and_line(data_dir: Path, name: str, old: str, new: str, key: str) -> None:
    path = data_dir / name
    _edit(path, old, new)
    with pytest.raises(RulesError) as info:
        load_rules(data_dir)
    message = str(info.value)
    assert str(path) in message and key in message, message
    m = re.search(r"line (\d+)", message)
    assert m is not None, message
    assert int(m.group(1)) == _line_of(path, key), message


def test_missing_file_and_missing_version(data_dir: Path) -> None:
    (data_dir / "codes.toml").unlink()
    with pytest.raises(RulesError, match="codes.toml"):
        load_rules(data_dir)
    shutil.copy(DATA_DIR / "codes.toml", data_dir / "codes.toml")
    _edit(data_dir / "payers.toml", 'version = "2025.1"', "")
    with pytest.raises(RulesError, match=r"payers\.toml.*'version'"):
        load_rules(data_dir)


def test_malformed_ptp_line_is_reported_through_load_rules(data_dir: Path) -> None:
    ptp = data_dir / "ptp.tsv"
    ptp.write_text(ptp.read_text() + "97530\t97112\t\t2020-01-01\t*\t1\tbad date\n")
    with pytest.raises(RulesError) as info:
        load_rules(data_dir)
    lines = ptp.read_text().splitlines()
    assert f"{ptp} line {len(lines)}" in str(info.value) and "Effective Date" in str(info.value)
