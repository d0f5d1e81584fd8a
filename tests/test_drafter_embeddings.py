"""The MiniLM classifier behind the sections seam: asked only where the rules are unsure."""

from __future__ import annotations

from proto import scribe_pb2 as pb
from services.drafter import embeddings
from services.drafter.embeddings import Prediction, PrototypeClassifier, hybrid, rescuer
from services.drafter.lexicon import load_lexicon
from services.drafter.note import draft_note
from services.drafter.sections import rule_classifier, set_classifier

LEX = load_lexicon()
AMBIENT = pb.SessionContext(mode="ambient")


class Stub(PrototypeClassifier):
    """A model that answers from a table (default: unsure) and counts encoder calls."""

    def __init__(self, answers: dict[str, Prediction]) -> None:
        self.calls: list[list[str]] = []

        def encode(texts):
            self.calls.append(list(texts))
            return [[float(len(t)), 1.0] for t in texts]

        super().__init__(encode, [("plan", "therapist", "x"), ("small_talk", "patient", "yy")])
        self.answers = answers
        self.asked: list[str] = []

    def predict(self, text: str) -> Prediction:
        self.asked.append(text)
        return self.answers.get(text, Prediction("plan", 0.0))


def seg(t: float, text: str, speaker: str) -> pb.TranscriptSegment:
    return pb.TranscriptSegment(start_s=t, end_s=t + 4, text=text, speaker=speaker)


def test_rules_decide_where_they_are_sure():
    model = Stub({"Right knee flexion 105 degrees.": Prediction("plan", 0.5)})
    c = hybrid(model)("Right knee flexion 105 degrees.", "therapist", LEX)
    assert c == rule_classifier("Right knee flexion 105 degrees.", "therapist", LEX)
    assert model.asked == []


def test_a_weakly_clinical_line_the_model_calls_small_talk_is_left_out():
    line = "I have to get home before the dog eats the couch."
    assert rule_classifier(line, "patient", LEX).section == "subjective"  # "couch" is a clinical word
    model = Stub({line: Prediction("small_talk", 0.2)})
    assert hybrid(model)(line, "patient", LEX).section is None
    assert hybrid(Stub({line: Prediction("small_talk", 0.01)}))(line, "patient", LEX).section == "subjective"


def test_a_sentence_without_a_clinical_word_is_kept_only_when_the_model_is_sure():
    line = "Next visit we'll add the version at the counter."  # (side stepping is now a named intervention)
    transcript = [seg(0, line, "therapist")]
    assert not draft_note(transcript, AMBIENT).plan  # rules alone: no clinical word, left out
    for margin, kept in ((0.2, True), (0.01, False)):
        model = Stub({line: Prediction("plan", margin)})
        set_classifier(hybrid(model), rescuer(model), model.deferred)
        try:
            note = draft_note(transcript, AMBIENT)
        finally:
            set_classifier(None)
        assert bool(note.plan) is kept, margin


def test_chatter_words_are_never_rescued():
    line = "The Steelers game is on tonight."
    model = Stub({line: Prediction("plan", 0.9)})
    set_classifier(hybrid(model), rescuer(model), model.deferred)
    try:
        note = draft_note([seg(0, line, "therapist")], AMBIENT)
    finally:
        set_classifier(None)
    assert not any(getattr(note, s) for s in ("subjective", "objective", "assessment", "plan"))


def test_dry_run_embeds_a_note_in_one_batch_and_caches():
    calls: list[list[str]] = []

    def encode(batch):
        calls.append(list(batch))
        return [[1.0, float(len(t) % 7)] for t in batch]

    model = PrototypeClassifier(encode, [("plan", "therapist", "x"), ("objective", "therapist", "yy")])
    calls.clear()
    texts = ["Ice pack to the knee after exercise.", "Patient shows good carryover of the strategies."]
    with model.deferred():
        for t in texts:
            assert model.predict(t).label == ""  # unsure during the dry run
    assert calls == [texts]
    assert model.predict(texts[0]).label in ("plan", "objective")
    assert calls == [texts]  # cached


def test_switch_off(monkeypatch):
    monkeypatch.setenv("SCRIBE_EMBEDDINGS", "0")
    assert not embeddings.enabled()
    assert embeddings.install_from_env() is None
    monkeypatch.setenv("SCRIBE_EMBEDDINGS", "1")
    assert embeddings.enabled()


def test_labelled_examples_cover_every_label():
    labels = {label for label, _, _ in embeddings.read_examples()}
    assert labels == set(embeddings.LABELS)


def test_real_model_loads_offline_from_its_path(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = embeddings.build(embeddings.default_model_path())
    assert model.predict("Did your team win the game last night?").label == "small_talk"
    assert model.predict("Continue two times a week for six more weeks.").label == "plan"
    assert model.predict("Shoulder abduction measured at 140 degrees.").label == "objective"


def test_the_model_does_not_move_a_named_treatment_to_a_section_no_rule_points_to():
    # misheard words ("Halo" for patellar, "tibialf moral" for tibiofemoral) made the model read an impression
    line = "Halo mobilizations and tibialf moral joint mobilizations."
    assert rule_classifier(line, "therapist", LEX).section == "objective"
    model = Stub({line: Prediction("assessment", 0.3)})
    assert hybrid(model)(line, "therapist", LEX).section == "objective"
    # a section one of the rules' cues points to ("at home": subjective) may still be chosen by the model
    home = "Bridges at home."
    assert rule_classifier(home, "therapist", LEX).section == "objective"
    assert hybrid(Stub({home: Prediction("subjective", 0.3)}))(home, "therapist", LEX).section == "subjective"
    # a line with no named treatment stays the model's to place
    vague = "Range is the main thing."
    assert not LEX.has_intervention(vague)
    assert rule_classifier(vague, "therapist", LEX).section == "objective"
    assert hybrid(Stub({vague: Prediction("assessment", 0.3)}))(vague, "therapist", LEX).section == "assessment"
