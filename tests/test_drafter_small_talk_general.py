"""A patient's chatter held in the note only by an everyday word ("night", "car", "work", "sat", "back").

Synthetic sentences written for this test (no eval case wording). The chatter sentences each carry a
word the drafter counts as clinical, so the plain clinical-word filter keeps them; the reports must
all survive the general everyday-chatter check.
"""

from __future__ import annotations

import pytest

from proto import scribe_pb2 as pb
from services.drafter.lexicon import load_lexicon
from services.drafter.note import draft_note
from services.drafter.sections import rule_classifier, set_classifier
from services.drafter.smalltalk import drop_everyday_chatter, is_everyday_chatter, strip_small_talk

LEX = load_lexicon()

CHATTER = [
    "We stayed up all night watching the cooking show finale.",
    "My cousin drove us to the outlet mall in her new car.",
    "Work was crazy, my boss ordered pizza for everybody.",
    "I sat through three episodes of that baking competition.",
    "The dog slept on my bed the whole weekend.",
    "We walked around the farmers market and bought peaches.",
    "My sister is doing better at her new job at the bank.",
    "We got back from my aunt's house late last night.",
    "I've been reading a great mystery novel, it kept me up all night.",
    "We sat on the porch and listened to the ball game on the radio.",
    "My brother-in-law bought a new car, a red convertible.",
    "I was working on a thousand piece jigsaw puzzle with my neighbor.",
    "The cat keeps sitting on my crossword puzzles.",
    "We went out to the new taco place, the chef came to every table.",
    "My granddaughter's soccer team won, we stood on the sideline cheering.",
    "We had brunch with friends and sat outside in the sunshine.",
    "I finally finished knitting the blanket for my nephew.",
    "That chili recipe came out better than last time.",
    "My husband works nights at the warehouse now.",
    "We walked the dog by the lake, the leaves are turning.",
    "I binge-watched the whole series on the couch.",
    "Our church potluck is next Sunday, I'm bringing the casserole.",
    "My friends and I went bowling on Friday night.",
    "The kids made pancakes for breakfast, what a mess in the kitchen but they did better than last year.",
]

REPORTS = [
    "My back was sore after sitting in the car for two hours.",
    "My knee aches at night when I roll over.",
    "I walked to the mailbox and back without the cane.",
    "I can't sit through a whole movie anymore, my hip stiffens up.",
    "I want to get back to bowling with my friends.",
    "My husband has to help me get dressed in the morning.",
    "Standing at the stove to cook dinner makes my back hurt.",
    "I dropped a coffee cup this week, my hand just let go.",
    "I got stuck getting out of the car at my daughter's house.",
    "The stairs at my son's place were hard, I needed the rail.",
    "I did the exercises every night before bed.",
    "My shoulder hurts when I reach for the cereal on the top shelf.",
    "I couldn't finish the grocery shopping, my legs gave out.",
    "I'm sleeping better since the pain went down.",
    "Walking the dog is easier now, I made it around the block.",
    "Work is hard because I can't type for more than ten minutes.",
    "My wife says I mumble at dinner and she can't understand me.",
    "I'm able to drive again, the neck feels looser.",
    "I was dizzy when I stood up from the couch.",
    "I was able to knit for twenty minutes before my fingers cramped.",
    "I lost my balance on the wet grass at the park.",
    "The pain is about a four after work.",
    "My back was sore after I watched six hours of baking shows.",
    "I carried the groceries in from the car by myself.",
]


@pytest.fixture(autouse=True)
def rules_only():
    set_classifier(None)
    yield
    set_classifier(None)


def patient_keeps(sentence: str) -> str:
    """What the drafter keeps of one patient sentence (rules only)."""
    text = drop_everyday_chatter(sentence, LEX)
    text = strip_small_talk(text, LEX) if text else ""
    if not text or rule_classifier(text, "patient", LEX).section is None:
        return ""
    return text


@pytest.mark.parametrize("sentence", CHATTER)
def test_chatter_with_an_everyday_word_is_dropped(sentence: str):
    assert len(CHATTER) >= 20
    assert patient_keeps(sentence) == "", sentence


@pytest.mark.parametrize("sentence", REPORTS)
def test_real_reports_are_kept(sentence: str):
    assert len(REPORTS) >= 20
    assert patient_keeps(sentence), sentence


def test_the_symptom_clause_stays_and_the_chatter_clause_goes():
    kept = patient_keeps("My back was sore after I watched six hours of baking shows.")
    assert "sore" in kept and "baking" not in kept and "watched" not in kept
    kept = patient_keeps("My knees ached all night, my cousin kept us up playing cards.")
    assert "ached" in kept and "cousin" not in kept


def test_a_limitation_or_an_owned_body_part_is_never_everyday():
    assert not is_everyday_chatter("I can't sit through the whole show", LEX)
    assert not is_everyday_chatter("my back was bad all through the game", LEX)
    assert is_everyday_chatter("we got back from the game late", LEX)


def test_the_sentence_model_can_keep_a_clause_as_care():
    clause = "We walked around the mall for an hour"
    assert is_everyday_chatter(clause, LEX)
    assert not is_everyday_chatter(clause, LEX, care=lambda c: True)


def test_a_note_leaves_out_the_chatter_and_keeps_the_report():
    segs = [
        pb.TranscriptSegment(start_s=0, end_s=4, speaker="therapist", text="How was your week?"),
        pb.TranscriptSegment(start_s=5, end_s=9, speaker="patient",
                             text="We stayed up all night watching the baking show. My hip ached on the stairs."),
    ]
    note = draft_note(segs, pb.SessionContext(mode="ambient", discipline="PT", note_type="daily"))
    text = " ".join(i.text for i in note.subjective).lower()
    assert "ached" in text and "baking" not in text and "night" not in text
