"""The intervention catalogue: its size and shape, its loader's errors, the phrase index, and the
classifier's decision and confidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.coder.activity import REVIEW_BELOW, ActivityModel, Evidence
from services.coder.catalogue import ATTRIBUTE_CODES, DISCIPLINES, load_catalogue, load_default_catalogue, stems
from services.coder.rules import load_default_rules
from services.common.errors import RulesError

RULES = load_default_rules()

ENTRY = """
[[interventions]]
id = "x-wall-slide"
name = "wall slide"
cpt = "97110"
attribute = "range_of_motion"
disciplines = ["PT"]
synonyms = ["wall slides"]
equipment = ["towel"]
verbs = ["slide"]
"""


def test_catalogue_size_and_shape() -> None:
    cat = load_default_catalogue()
    assert len(cat.interventions) >= 400
    per_discipline = {d: sum(1 for e in cat.interventions if d in e.disciplines) for d in DISCIPLINES}
    assert per_discipline["PT"] >= 150 and per_discipline["OT"] >= 100 and per_discipline["SLP"] >= 100
    by_code = cat.by_code()
    # Every code the attribute table leads to has entries to learn it from.
    assert set(ATTRIBUTE_CODES.values()) <= set(by_code)
    for entry in cat.interventions:
        assert ATTRIBUTE_CODES[entry.attribute] == entry.cpt, entry.id
        assert set(entry.disciplines) & set(RULES.code(entry.cpt).disciplines), entry.id


def _write(tmp_path: Path, body: str, name: str = "pt.toml") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text('version = "t"\n' + body)
    return tmp_path


def test_a_small_valid_catalogue_loads(tmp_path: Path) -> None:
    cat = load_catalogue(_write(tmp_path, ENTRY), known_codes=RULES.codes)
    assert [e.id for e in cat.interventions] == ["x-wall-slide"]
    assert cat.interventions[0].names == ("wall slide", "wall slides")


@pytest.mark.parametrize("old,new,message", [
    ('attribute = "range_of_motion"', 'attribute = "balance"', "attribute 'balance' means 97112, not 97110"),
    ('attribute = "range_of_motion"', 'attribute = "speed"', "unknown attribute 'speed'"),
    ('cpt = "97110"', 'cpt = "97999"', "attribute 'range_of_motion' means 97110, not 97999"),
    ('name = "wall slide"\n', "", "missing name"),
    ('disciplines = ["PT"]', 'disciplines = ["PE"]', "disciplines must be PT, OT and/or SLP"),
    ('synonyms = ["wall slides"]', 'synonyms = ["wall slides", ""]', "synonyms must be a list of non-empty strings"),
])
def test_a_bad_entry_names_its_file_and_line(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in ENTRY
    directory = _write(tmp_path, "\n" + ENTRY.replace(old, new))
    with pytest.raises(RulesError) as err:
        load_catalogue(directory, known_codes=RULES.codes)
    assert f"pt.toml line 4: {message}" in str(err.value)


def test_duplicate_ids_syntax_errors_and_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="no intervention catalogue"):
        load_catalogue(tmp_path, known_codes=RULES.codes)
    _write(tmp_path, ENTRY + ENTRY)
    with pytest.raises(RulesError, match="id 'x-wall-slide' already used at .*pt.toml line 3"):
        load_catalogue(tmp_path, known_codes=RULES.codes)
    _write(tmp_path, ENTRY.replace('cpt = "97110"', 'cpt = 97110"'))
    with pytest.raises(RulesError, match="pt.toml: not valid TOML"):
        load_catalogue(tmp_path, known_codes=RULES.codes)


def test_phrase_index_takes_the_longest_match_on_word_stems() -> None:
    cat = load_default_catalogue()
    hits = cat.index.find(stems("now some single leg stances on the left"))
    # "stances" meets "stance" by its stem; the three-word name wins over any of its words alone.
    assert [(h.phrase, h.kind, h.start, h.end) for h in hits] == [("single leg stance", "name", 2, 5)]
    assert cat.interventions[hits[0].entry].cpt == "97112"
    assert not cat.index.find(stems("the weather was lovely at the lake"))


def test_a_name_said_with_a_side_a_count_or_an_article_inside_it_still_matches(tmp_path: Path) -> None:
    (tmp_path / "x.toml").write_text('version = "t"\n' + ENTRY.replace(
        'synonyms = ["wall slides"]', 'synonyms = ["wall slides", "slide up the wall", "heel slide"]'))
    cat = load_catalogue(tmp_path, known_codes=["97110"])

    def found(text: str) -> list[tuple[str, int, int]]:
        return [(h.phrase, h.start, h.end) for h in cat.index.find(stems(text))]

    # "right" and "one" are said inside the name; the content words stay in order
    assert ("slide up the wall", 0, 5) in found("slide right up the wall")
    assert ("heel slide", 0, 3) in found("heel, one slide")
    assert ("heel slide", 1, 6) in found("your heel the right one slide")  # three fillers in between
    assert not any(p == "heel slide" for p, _, _ in found("heel the right one little slide"))  # four: too far
    assert not any(p == "heel slide" for p, _, _ in found("slide your heel"))  # order matters
    assert found("heel slide") == [("heel slide", 0, 2)]  # an exact match is not counted twice


def _model() -> ActivityModel:
    return ActivityModel(load_default_catalogue(), RULES)


def test_clear_evidence_is_billed_without_review() -> None:
    guess = _model().decide(Evidence(phrase={"97116": 6.0, "97530": 0.5}), "PT")
    assert guess is not None and guess.cpt == "97116" and guess.confidence >= REVIEW_BELOW
    assert not guess.needs_review


def test_close_evidence_is_billed_with_the_best_code_and_needs_review() -> None:
    guess = _model().decide(Evidence(phrase={"97116": 2.0, "97530": 1.8}), "PT")
    assert guess is not None and guess.cpt == "97116" and guess.runner_up == "97530"
    assert guess.needs_review and guess.confidence < REVIEW_BELOW
    assert "97530" in guess.why


def test_no_evidence_is_no_guess_and_other_disciplines_codes_are_not_offered() -> None:
    model = _model()
    assert model.decide(Evidence(), "PT") is None
    assert "92507" not in model.allowed_codes("PT") and "92507" in model.allowed_codes("SLP")
    assert "97140" not in model.allowed_codes("SLP")


def test_phrases_point_to_their_code() -> None:
    model = _model()
    for text, code, discipline in [
        ("Single leg stance on the foam pad, eyes closed.", "97112", "PT"),
        ("Retrograde massage from the fingertips toward the elbow for the swelling.", "97140", "OT"),
        ("Chin tuck with each sip of thin liquid.", "92526", "SLP"),
    ]:
        guess = model.decide(model.phrase_evidence(text, discipline), discipline)
        assert guess is not None and guess.cpt == code, (text, guess)


DESCRIPTIONS = [  # written for this test, in words the catalogue does not use
    ("She stood heel to toe on the foam while I nudged her shoulders, and caught herself each time.", "97112", "PT"),
    ("Walked the length of the corridor twice with the quad cane, watching her step length.", "97116", "PT"),
    ("Pedalled the arm bike and did three rounds of biceps curls with the two pound dumbbell.", "97110", "PT"),
    ("Practised putting on her socks with the sock aid and her shoes with a long shoehorn.", "97535", "OT"),
    ("We named pictures of household objects and she described what each one is used for.", "92507", "SLP"),
]


@pytest.mark.parametrize("text,code,discipline", DESCRIPTIONS)
def test_sentence_model_codes_new_descriptions(activity_model: ActivityModel, text: str, code: str,
                                               discipline: str) -> None:
    (ev,) = activity_model.evidence([text], discipline)
    guess = activity_model.decide(ev, discipline)
    assert guess is not None and guess.cpt == code, (text, guess)


def test_catalogue_embeddings_are_cached_by_model_fingerprint(tmp_path: Path) -> None:
    """A second start with the same model and catalogue reads the embeddings from disk; another model
    key embeds afresh; no key caches nothing (a process-dependent key once left a new file per run)."""
    from services.common.sentence_model import default_model_path, shared_encoder

    encoder = shared_encoder(default_model_path())
    calls: list[int] = []

    def counting(texts: list[str]) -> list[list[float]]:
        calls.append(len(texts))
        return encoder(texts)

    small = load_catalogue(_write(tmp_path / "cat", ENTRY), known_codes=RULES.codes)
    cache = tmp_path / "cache"
    first = ActivityModel(small, RULES, counting, cache, "model-a")
    second = ActivityModel(small, RULES, counting, cache, "model-a")
    assert len(calls) == 1 and len(list(cache.glob("catalogue-*.npy"))) == 1
    assert (first._docs == second._docs).all()
    ActivityModel(small, RULES, counting, cache, "model-b")
    assert len(calls) == 2 and len(list(cache.glob("catalogue-*.npy"))) == 2
    ActivityModel(small, RULES, counting, cache, "")
    assert len(calls) == 3 and len(list(cache.glob("catalogue-*.npy"))) == 2
