"""Ambient segmentation on sessions written for this file: activities the therapist never names by
category, edges at the announcement and the wrap-up, the end of the session, group sessions.

These run with the bundled sentence model behind the coder (the `activity_model` fixture), as the
services do. The wording is this file's own: not from ../shared/eval and not copied from the
intervention catalogue's examples, so a pass means the mechanism carried over to new sentences.
"""

from __future__ import annotations

from proto import scribe_pb2 as pb
from services.coder.coding import code_draft
from services.coder.rules import load_default_rules
from tests.test_coder_flags import draft

RULES = load_default_rules()

Said = tuple[float, str, str]


def coded(lines: list[Said], **ctx: str) -> pb.CodingResult:
    ctx.setdefault("diagnosis", "right total knee arthroplasty")
    return code_draft(draft(lines, mode="ambient", **ctx), RULES)


def blocks(result: pb.CodingResult) -> list[tuple[str, str, str]]:
    return sorted(((c.cpt, c.start, c.stop) for c in result.codes), key=lambda b: b[1])


def close(got: str, want: str) -> bool:
    """Within a minute, as ../shared/eval scores block times."""
    gh, gm = map(int, got.split(":"))
    wh, wm = map(int, want.split(":"))
    return abs((gh * 60 + gm) - (wh * 60 + wm)) <= 1


UNNAMED = [
    (0, "therapist", "Hi Dana, come on back. How did the weekend go?"),
    (6, "patient", "Pretty quiet, we watched a movie with the grandkids."),
    (60, "therapist", "Hop on the bike and pedal easy to warm that knee up."),
    (200, "therapist", "Keep the pace steady, and push a little harder with the right leg."),
    (600, "therapist", "Good, you can hop off now."),
    (660, "therapist", "Let's walk down the hallway with the walker."),
    (900, "therapist", "Lift your head, look where you're going, and keep the walker closer to you."),
    (1200, "therapist", "Turn around at the door and come back, heel first on the right."),
    (1380, "therapist", "Nice, have a seat. That's enough walking."),
    (1500, "therapist", "Now I want you to practise getting down onto the mat and back up again, in case you "
                        "ever end up on the floor at home."),
    (1560, "therapist", "Half kneel first, hand on the chair, then bring the other foot up and stand."),
    (1800, "therapist", "Again, and this time push up through your right leg."),
    (2100, "therapist", "That's all for today, you worked hard. See you Thursday."),
    (2110, "patient", "Thanks, see you then."),
]


def test_activities_never_named_by_category_each_get_a_block(activity_model: object) -> None:
    got = blocks(coded(UNNAMED))
    assert [cpt for cpt, _, _ in got] == ["97110", "97116", "97530"]
    want = [("10:01", "10:10"), ("10:11", "10:23"), ("10:25", "10:35")]
    for (cpt, start, stop), (w_start, w_stop) in zip(got, want, strict=True):
        assert close(start, w_start) and close(stop, w_stop), (cpt, start, stop)


def test_edges_are_the_announcement_and_the_wrap_up_not_the_first_exercise(activity_model: object) -> None:
    # Talk about how the task will go comes first; the block still opens at the announcement.
    session = [
        (0, "therapist", "Okay, we're going to work on your balance for a while."),
        (40, "therapist", "I'll stand right beside you, and you tell me if you feel unsteady."),
        (240, "therapist", "Feet together on the foam, arms crossed, eyes closed if you can."),
        (480, "therapist", "Now one foot in front of the other, heel touching toe."),
        (720, "therapist", "Good, we're done with the balance work."),
        (760, "therapist", "Tell me about the pain since Tuesday, has it settled?"),
        (770, "patient", "Mostly, just stiff in the mornings."),
    ]
    got = blocks(coded(session, diagnosis="history of falls"))
    assert [cpt for cpt, _, _ in got] == ["97112"]
    _, start, stop = got[0]
    assert close(start, "10:00") and close(stop, "10:12"), (start, stop)


def test_nothing_after_the_session_ends_is_billed(activity_model: object) -> None:
    session = [
        (0, "therapist", "Let's start with some exercises, lying on your back, straight leg raises on the right."),
        (300, "therapist", "Ten more, slow on the way down."),
        (720, "therapist", "That's all for today. Ice the knee when you get home."),
        (900, "therapist", "Here's your sheet with the exercises for home, three sets of ten of each."),
        (1500, "therapist", "Drive safe, see you next week."),
    ]
    got = blocks(coded(session))
    assert [cpt for cpt, _, _ in got] == ["97110"]
    assert close(got[0][2], "10:12")


def test_group_session_is_one_group_code(activity_model: object) -> None:
    session = [
        (0, "therapist", "Welcome everyone, let's get started with our seated exercise class."),
        (60, "therapist", "Marjorie, march your feet; Bill, you too, nice and tall."),
        (300, "therapist", "Everyone reach both arms up overhead, and down, ten times."),
        (600, "therapist", "Frank, slow down a bit. Ruth, good, keep breathing."),
        (900, "therapist", "Now everyone stand behind your chair, heel raises, twelve of them."),
        (1500, "therapist", "That's the end of class, everyone, see you all Friday."),
    ]
    result = coded(session, diagnosis="deconditioning and history of falls")
    assert [c.cpt for c in result.codes] == ["97150"]
    assert result.codes[0].units == 1


def test_uncertain_block_is_billed_with_its_runner_up_and_reason(activity_model: object) -> None:
    # Step training: gait and therapeutic activity both fit; whichever is billed, the other is named.
    session = [
        (0, "therapist", "Let's do some work on the steps over in the corner."),
        (60, "therapist", "Up with the good leg, down with the operated one, hand on the rail."),
        (300, "therapist", "Three more times up and down."),
        (600, "therapist", "Okay, that's enough of the steps."),
    ]
    result = coded(session)
    assert len(result.codes) == 1
    code = result.codes[0]
    assert code.cpt in {"97116", "97530", "97110"}
    assert 0.0 < code.confidence <= 1.0
    if code.needs_review:
        assert code.runner_up and code.runner_up != code.cpt and code.review_reason


# An evaluation visit: the interview and tests, the plan of care, then treatment. Written for this file.
EVALUATION = [
    (0, "therapist", "Good morning, I'm going to ask you a lot of questions first and then test your hip."),
    (30, "patient", "Sure. It's been sore for about two months."),
    (120, "therapist", "Where does it hurt when you climb the stairs at home?"),
    (130, "patient", "Right in the front of the hip."),
    (400, "therapist", "Lie on your back. Hip flexion is 110 degrees, abduction 4/5, sensation is intact."),
    (550, "therapist", "Stand up and walk to the door for me. Your gait is antalgic and the posture is upright."),
    (700, "therapist", "So I'd like to see you twice a week for six weeks, and the goal is climbing a full "
                       "flight of stairs without the rail."),
    (780, "therapist", "Lie on your side now, lift the top leg toward the ceiling and lower it slowly, 3x10."),
    (1000, "therapist", "Now onto your back, squeeze the glutes and lift the hips, 2x15."),
    (1300, "therapist", "All done for today, see you on Thursday."),
]


def test_an_evaluation_ends_at_its_plan_of_care(activity_model: object) -> None:
    result = coded(EVALUATION, note_type="evaluation", diagnosis="right hip osteoarthritis")
    got = blocks(result)
    assert [cpt for cpt, _, _ in got] == ["97162", "97110"], got
    assert close(got[0][2], "10:13") and close(got[1][1], "10:13"), got


def test_an_evaluation_complexity_unstated_is_moderate_and_low_when_documented_so() -> None:
    from services.coder import classify

    talk = "Hip flexion 110 degrees, abduction 4/5, sensation intact, gait antalgic, posture upright, balance fair."
    assert classify.eval_complexity(talk, RULES) == 1  # nothing on history or presentation: moderate
    assert classify.eval_complexity(talk + " No comorbidities, and a stable presentation.", RULES) == 0
    assert classify.eval_complexity(talk + " Diabetes, COPD and heart failure; presentation unstable.", RULES) == 2
    assert classify.eval_complexity("Low complexity evaluation.", RULES) == 0


def test_a_visit_booked_as_an_evaluation_but_called_a_recheck_is_a_reevaluation(activity_model: object) -> None:
    recheck = [(0, "therapist", "Okay, today's your re-check, so I'll measure everything again first."),
               *EVALUATION[1:]]
    assert blocks(coded(recheck, note_type="evaluation", diagnosis="right hip osteoarthritis"))[0][0] == "97164"
    # Saying a recheck will come later does not make today one.
    later = [*EVALUATION[:-1], (1300, "therapist", "We'll do a progress visit in four weeks, see you Thursday.")]
    assert blocks(coded(later, note_type="evaluation", diagnosis="right hip osteoarthritis"))[0][0] == "97162"


def test_a_household_task_practised_standing_is_a_functional_activity(activity_model: object) -> None:
    session = [
        (0, "therapist", "Come over to the counter, we're going to make a cup of tea together."),
        (60, "therapist", "Fill the kettle at the sink, carry it over with both hands, and set it down."),
        (300, "therapist", "Reach up for a mug from the top shelf, keep your weight on both feet."),
        (600, "therapist", "Good, put the dishes back in the cupboard and we're done with the kitchen."),
    ]
    got = blocks(coded(session, discipline="OT", diagnosis="left hemiparesis after stroke"))
    assert [cpt for cpt, _, _ in got] == ["97530"], got


# An evaluation whose goals come only at the end, with exercise and hands-on work between the tests
# and the goal talk: the examination is the evaluation's, the treatment after it is billed as treatment.
GOALS_AT_THE_END = [
    (0, "therapist", "Good afternoon, today is your first visit, so it's questions and measurements first."),
    (20, "patient", "Okay. The shoulder has been stiff since the fall in March."),
    (90, "therapist", "Does it wake you at night? And can you reach the top shelf at home?"),
    (100, "patient", "Every night, and no, not the top shelf."),
    (240, "therapist", "Raise the arm out to the side as far as it goes. 95 degrees of abduction."),
    (330, "therapist", "Push up against my hand. Abduction strength is 3+/5, external rotation 4-/5."),
    (420, "therapist", "Reach behind your back. You get to the belt line, and it is tender to touch at the front."),
    (600, "therapist", "Alright, let's get some work in. Grab the pulley handles and pull the right arm up, "
                       "2x15, slow on the way down."),
    (720, "therapist", "Now the yellow band, elbow at your side, rotate out, 3x10."),
    (840, "therapist", "Seven, eight, nine, ten. Rest a moment and go again."),
    (960, "therapist", "Lie back on the table and let your arm hang loose. I'm going to glide the shoulder "
                       "down and back, slow grade three oscillations."),
    (1140, "therapist", "Stay relaxed, I'm holding the arm and stretching into rotation."),
    (1320, "therapist", "Sit up slowly. Here's what I want us working toward over the next six weeks: "
                        "reaching the top shelf and sleeping through the night."),
    (1380, "therapist", "I'd like to see you twice a week for six weeks. See you Monday."),
]


def test_an_evaluation_with_its_goals_at_the_end_keeps_the_treatment_in_between(activity_model: object) -> None:
    got = blocks(coded(GOALS_AT_THE_END, note_type="evaluation", discipline="PT",
                       diagnosis="left shoulder adhesive capsulitis"))
    assert [cpt for cpt, _, _ in got] == ["97162", "97110", "97140"], got
    assert close(got[0][2], "10:10") and close(got[1][1], "10:10"), got
    assert close(got[2][1], "10:16") and close(got[2][2], "10:22"), got


def test_a_reading_is_a_measurement_and_a_dose_is_not() -> None:
    from services.coder.ambient import load_cues, read_cues

    cues = load_cues()
    assert read_cues("4 seconds.", cues, frozenset())["measure"]
    assert read_cues("The swelling is 41 centimeters around.", cues, frozenset())["measure"]
    assert read_cues("It came out 52/80 on the questionnaire.", cues, frozenset())["measure"]
    assert not read_cues("Hold it for 30 seconds and lower slowly.", cues, frozenset())["measure"]
    assert not read_cues("Last one, heel cord stretch on the step, 30 seconds, three times each side.",
                         cues, frozenset())["measure"]


def test_a_move_to_the_next_place_and_a_purpose_are_not_the_activity(activity_model: object) -> None:
    from services.coder import activity
    from services.coder.ambient import load_cues, read_cues, session_lines
    from tests.test_coder_flags import draft as make_draft

    said = [(0, "therapist", "Okay, step over to the window for me."),
            (10, "therapist", "Reaching past ninety is what lets you wash your hair on your own.")]
    lines = session_lines(make_draft(said, mode="ambient").transcript, activity.current(RULES), "PT", load_cues())
    assert lines[0].transit and lines[0].evidence.logits(["97116"])["97116"] < 1.0
    cue = read_cues(said[1][2], load_cues(), frozenset())
    assert cue["purpose"] and not cue["announce"]


# The agenda names exercise before the hands-on work starts, and a purpose statement during the exercise
# names a functional task: neither is an activity of its own.
NAMED_NOT_LED = [
    (0, "therapist", "Morning. Your surgeon okayed light strengthening, so we'll add some of that at the end."),
    (60, "therapist", "Lie back and let your knee go loose, I'll do the moving."),
    (180, "therapist", "I'm bending the knee slowly and holding it at the stiff point, tell me if it's too much."),
    (400, "therapist", "I'm gliding the kneecap up and down now, stay relaxed."),
    (600, "therapist", "Sit up. Now you do the work: ankle weight on, straighten the knee, 3x10."),
    (780, "therapist", "That's the strength for getting out of a low car seat."),
    (840, "therapist", "Now lie on your side and lift the top leg, 2x12."),
    (1080, "therapist", "Good work today, that's it."),
]


def test_an_activity_named_but_not_led_has_no_block(activity_model: object) -> None:
    got = blocks(coded(NAMED_NOT_LED))
    assert [cpt for cpt, _, _ in got] == ["97140", "97110"], got
    assert close(got[0][1], "10:01") and close(got[1][1], "10:10"), got


def test_repetitions_counted_aloud_dose_the_exercise() -> None:
    from services.coder.activity import current
    from services.coder.ambient import _COUNTED, load_cues, session_lines

    assert _COUNTED.search("Eight, nine, ten, rest.") and _COUNTED.search("13, 14, 15.")
    assert not _COUNTED.search("Pain is 4/10 and we start at 10:05.")
    seg = pb.TranscriptSegment(seq=0, start_s=0.0, end_s=4.0, speaker="therapist", text="Six, seven, eight, good.")
    line = session_lines([seg], current(load_default_rules()), "PT", load_cues())[0]
    assert line.dosed


# ---------------------------------------------------------------- runs: weak stretches and edges
# Unit tests of the steps after the labelling, on sentences whose evidence is set by hand.

def _line(t: float, **cues: object) -> object:
    from services.coder.activity import PHRASE_SCALE, Evidence
    from services.coder.ambient import Line

    evidence = {code: value / PHRASE_SCALE for code, value in dict(cues.pop("ev", {})).items()}  # type: ignore[call-overload]
    line = Line(int(t), "", t, t + 3, True, Evidence(phrase=evidence))
    for name, value in cues.items():
        setattr(line, name, value)
    return line


def _states(runs: list) -> list[tuple[str, int]]:  # type: ignore[type-arg]
    return [(r.state, len(r.lines)) for r in runs]


def test_a_long_led_stretch_on_weak_evidence_after_no_activity_keeps_its_block() -> None:
    from services.coder.ambient import NONE, Run, _absorb_weak_runs

    chat = Run(NONE, [_line(0), _line(20)])
    # Recognition errors left little evidence, but the therapist gives instruction after instruction.
    led = Run("97530", [_line(60 + 30 * i, doing=True, ev={"97530": 0.3}) for i in range(6)])
    assert _states(_absorb_weak_runs([chat, led])) == [(NONE, 2), ("97530", 6)]
    # One instruction on the same weak evidence is a stray sentence: it joins the talk around it.
    stray = Run("97530", [_line(60, doing=True, ev={"97530": 0.3})])
    assert _states(_absorb_weak_runs([Run(NONE, [_line(0)]), stray])) == [(NONE, 2)]


def test_an_announced_stretch_as_long_as_an_activity_is_one_without_a_recognised_instruction() -> None:
    from services.coder.ambient import NONE, Run, _absorb_weak_runs

    # A therapist who speaks in fragments ("Groceries. Floor to counter. Two cans.") gives no instruction
    # the cue lists know; announced and ten sentences long, it is still the activity she announced.
    fragments = Run("97530", [_line(600, announce=True, ev={"97530": 2.6}),
                              *(_line(630 + 60 * i, ev={"97530": 0.2}) for i in range(9))])
    assert _states(_absorb_weak_runs([Run(NONE, [_line(0)]), fragments])) == [(NONE, 1), ("97530", 10)]
    # Named in passing and nothing more ("we'll do the groceries next time"): no activity.
    named = Run("97530", [_line(600, announce=True, ev={"97530": 2.6}), _line(630)])
    assert _states(_absorb_weak_runs([Run(NONE, [_line(0)]), named])) == [(NONE, 3)]


def test_a_long_stretch_pointing_to_its_own_code_is_not_absorbed_by_the_one_before() -> None:
    from services.coder.ambient import Run, _absorb_weak_runs

    swallow = Run("92526", [_line(10 * i, doing=True, ev={"92526": 2.0}) for i in range(4)])
    naming = Run("92507", [_line(100 + 10 * i, doing=i == 1, ev={"92507": 0.8}) for i in range(6)])
    assert _states(_absorb_weak_runs([swallow, naming])) == [("92526", 4), ("92507", 6)]
    # The same weak stretch whose sentences point as much to the code before is that activity going on.
    mixed = Run("92507", [_line(100 + 10 * i, doing=i == 1, ev={"92507": 0.8, "92526": 0.8}) for i in range(6)])
    assert _states(_absorb_weak_runs([swallow, mixed])) == [("92526", 10)]
    # One strong sentence and five with nothing: a stray word of another activity inside this one.
    stray = Run("92507", [_line(100 + 10 * i, doing=True, ev={"92507": 3.5 if i == 0 else 0.1}) for i in range(6)])
    swallow = Run("92526", [_line(10 * i, doing=True, ev={"92526": 2.0}) for i in range(4)])
    assert _states(_absorb_weak_runs([swallow, stray])) == [("92526", 10)]


def test_another_set_or_counting_goes_on_with_the_exercise_under_way() -> None:
    from services.coder.ambient import Run, _absorb_weak_runs

    def said(t: float, text: str, **cues: object) -> object:
        line = _line(t, **cues)
        line.text = text  # type: ignore[attr-defined]
        return line

    # Sit to stand (a functional task) dosed in sets: the sets and the counting that follow lean to
    # therapeutic exercise, but they carry on the task under way.
    task = Run("97530", [said(0, "Stand up from the chair without your hands, 3x10.", announce=True, dosed=True,
                              ev={"97530": 3.0})])
    going_on = Run("97110", [said(60, "8, 9, 10.", dosed=True, ev={"97110": 0.7}),
                             said(120, "Second set, ten more.", ev={"97110": 0.8}),
                             said(180, "Weight forward, knees over your toes.", doing=True, ev={"97110": 0.3}),
                             said(240, "Last set of 10.", dosed=True, ev={"97110": 0.3}),
                             said(300, "Good.")])
    assert _states(_absorb_weak_runs([task, going_on])) == [("97530", 6)]


def test_an_edge_at_no_cue_moves_to_the_sentence_that_leads_the_next_activity() -> None:
    from services.coder.ambient import Run, _move_edges_to_cues

    exercise = Run("97110", [_line(0, ev={"97110": 3.0}), _line(30, ev={"97110": 2.0})])
    # "Three seconds each." (no evidence) was cut into the next block; "Now roll onto your stomach." leads it.
    manual = Run("97140", [_line(60), _line(400, led=True), _line(420, hands_on=True, ev={"97140": 3.0})])
    runs = _move_edges_to_cues([exercise, manual])
    assert _states(runs) == [("97110", 3), ("97140", 2)]
    assert runs[1].lines[0].t == 400
    # No cue between them: the edge stays where the labelling put it.
    plain = Run("97140", [_line(60), _line(400), _line(420, ev={"97140": 3.0})])
    again = Run("97110", [_line(0, ev={"97110": 3.0}), _line(30, ev={"97110": 2.0})])
    assert _states(_move_edges_to_cues([again, plain])) == [("97110", 2), ("97140", 3)]
    # A trace of the next code's words ("That's the control you need on a wet floor.") is no evidence of
    # where the edge is: the move to the next place ("Grab your cane, we're walking to the stairs") still is.
    balance = Run("97112", [_line(0, announce=True, ev={"97112": 3.0}), _line(30, ev={"97112": 2.0})])
    gait = Run("97116", [_line(60, ev={"97116": 0.02}), _line(90, transit=True, ev={"97116": 0.8}),
                         _line(120, ev={"97116": 3.0})])
    moved = _move_edges_to_cues([balance, gait])
    assert _states(moved) == [("97112", 3), ("97116", 2)] and moved[1].lines[0].t == 90


def test_after_the_goals_the_evaluation_lasts_until_the_therapist_leads_the_treatment() -> None:
    from services.coder.ambient import EVAL, label

    session = [
        _line(0, measure=True),                                # a test read off
        _line(60, measure=True),
        _line(120),                                            # the goals are set (plan of care) ...
        _line(150, after_goals=True, ev={"97116": 0.4}),       # "Here are your shoes." (a stray word of walking)
        _line(170, after_goals=True, transit=True, ev={"97116": 0.5}),  # "We're heading out to the hallway."
        _line(180, after_goals=True, announce=True, ev={"97116": 3.8}),
        _line(240, after_goals=True, doing=True, ev={"97116": 2.0}),
    ]
    labels = label(session, ["97110", "97116"], evaluation=True)
    assert labels[:4] == [EVAL] * 4
    assert labels[4:] == ["97116"] * 3


def test_the_goals_being_listed_are_the_evaluation_not_the_treatment_they_name() -> None:
    from services.coder.ambient import EVAL, label

    # "My goals for you: ..." then "Talking for a whole dinner with your family." (names speech work),
    # "Three times a week." and only then "Let's start: big breath, and a long loud ah."
    session = [
        _line(0, measure=True),
        _line(60),  # the goals are set
        _line(70, after_goals=True, goal_listed=True, ev={"92507": 1.0}),
        _line(80, after_goals=True, goal_listed=True, plan=True, ev={"92507": 0.1}),
        _line(90, after_goals=True, announce=True, ev={"92507": 0.4}),
        _line(100, after_goals=True, doing=True, ev={"92507": 2.8}),
    ]
    assert label(session, ["92507", "92526"], evaluation=True) == [EVAL] * 4 + ["92507"] * 2


def test_an_evaluations_tests_before_the_goals_stay_the_evaluation() -> None:
    from services.coder.ambient import EVAL, Run, _absorb_weak_runs

    interview = Run(EVAL, [_line(0, before_goals=True), _line(30, before_goals=True, measure=True)])
    # "Now the pegboard." "Nine pegs in and out, right hand." "58 seconds." read off, nothing dosed: a test
    pegs = Run("97530", [_line(60, before_goals=True, announce=True, ev={"97530": 3.8}),
                         _line(70, before_goals=True, doing=True, ev={"97530": 3.8}),
                         _line(90, before_goals=True, measure=True)])
    after = Run("97535", [_line(300, after_goals=True, announce=True, ev={"97535": 3.8}),
                          _line(330, after_goals=True, doing=True, ev={"97535": 3.0})])
    assert _states(_absorb_weak_runs([interview, pegs, after])) == [(EVAL, 5), ("97535", 2)]
    # The same sets dosed ("2x10") are treatment, whenever the goals come.
    dosed = Run("97110", [_line(60, before_goals=True, announce=True, dosed=True, ev={"97110": 3.8}),
                          _line(70, before_goals=True, doing=True, dosed=True, ev={"97110": 3.8}),
                          _line(90, before_goals=True, measure=True)])
    interview = Run(EVAL, [_line(0, before_goals=True), _line(30, before_goals=True, measure=True)])
    assert _states(_absorb_weak_runs([interview, dosed])) == [(EVAL, 2), ("97110", 3)]


def test_an_activity_begun_from_none_starts_at_its_announcement() -> None:
    from services.coder.ambient import NONE, Run, _move_edges_to_cues

    greeting = Run(NONE, [_line(0, question=True)])
    # "Knee bend is 100 degrees." "Swelling is down." (readings with a trace of the manual code's words),
    # then "Today we'll begin with joint mobilisation."
    manual = Run("97140", [_line(30, measure=True, ev={"97140": 0.1}), _line(40, ev={"97140": 0.4}),
                           _line(120, announce=True, ev={"97140": 6.0}), _line(300, hands_on=True, ev={"97140": 2.0})])
    runs = _move_edges_to_cues([greeting, manual])
    assert _states(runs) == [(NONE, 3), ("97140", 2)] and runs[1].lines[0].t == 120
    # Treatment already under way before it is named keeps its start.
    greeting = Run(NONE, [_line(0, question=True)])
    early = Run("97140", [_line(30, hands_on=True, ev={"97140": 4.0}), _line(120, announce=True, ev={"97140": 6.0})])
    assert _states(_move_edges_to_cues([greeting, early])) == [(NONE, 1), ("97140", 2)]
