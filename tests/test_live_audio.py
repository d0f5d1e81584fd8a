"""Live audio in any rate and layout to 16 kHz mono, Opus packets, the open utterance, LocalAgreement-2."""

from __future__ import annotations

import av
import numpy as np

from services.asr.agreement import LocalAgreement, agreed_prefix
from services.ingest.audio import decode_audio
from services.ingest.live import LiveCutter, OpusDecoder, Resampler
from services.ingest.vad import cut_utterances
from tests.cases import case_audio


def _tone(seconds: float, rate: int, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * hz * t) * 10_000).astype(np.int16)


def _peak_hz(pcm: np.ndarray, rate: int = 16_000) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float32)))
    return float(np.fft.rfftfreq(len(pcm), 1 / rate)[int(np.argmax(spectrum))])


def _feed_in_packets(resampler: Resampler, data: bytes, rate: int, channels: int, ms: int = 20) -> np.ndarray:
    step = rate * ms // 1000 * channels * 2
    parts = [resampler.pcm(data[i : i + step], rate, channels) for i in range(0, len(data), step)]
    return np.concatenate([*parts, resampler.flush()])


def test_48k_stereo_becomes_16k_mono_with_nothing_lost() -> None:
    mono = _tone(2.0, 48_000)
    stereo = np.stack([mono, mono], axis=1).reshape(-1)  # interleaved L R
    out = _feed_in_packets(Resampler(), stereo.astype("<i2").tobytes(), 48_000, 2)
    assert abs(len(out) - 32_000) <= 1  # the resampler's held-back samples come out on flush
    assert abs(_peak_hz(out) - 440.0) < 2.0


def test_8k_mono_becomes_16k_mono() -> None:
    out = _feed_in_packets(Resampler(), _tone(2.0, 8_000, hz=300.0).astype("<i2").tobytes(), 8_000, 1)
    assert abs(len(out) - 32_000) <= 1
    assert abs(_peak_hz(out) - 300.0) < 2.0


def test_opus_packets_decode_to_16k_mono() -> None:
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48_000, "stereo", "s16"  # type: ignore[attr-defined]
    source = _tone(1.0, 48_000)
    packets: list[bytes] = []
    for i in range(0, len(source), 960):
        frame = av.AudioFrame.from_ndarray(np.repeat(source[i : i + 960], 2).reshape(1, -1), format="s16",
                                           layout="stereo")
        frame.sample_rate, frame.pts = 48_000, i
        packets += [bytes(p) for p in encoder.encode(frame)]
    decoder = OpusDecoder()
    out = np.concatenate([decoder.packet(p) for p in packets] + [decoder.flush()])
    assert 14_000 <= len(out) <= 16_500  # the encoder keeps its last packet
    assert abs(_peak_hz(out[2000:]) - 440.0) < 3.0


def test_live_cutter_cuts_like_the_file_cutter_and_shows_the_open_utterance() -> None:
    pcm = decode_audio(case_audio("pub-004"))[: 16_000 * 20]
    cutter = LiveCutter()
    live, opened = [], 0
    for i in range(0, len(pcm), 320):  # 20 ms frames, as WebRTC delivers them
        live += cutter.feed(pcm[i : i + 320])
        open_utt = cutter.open_utterance()
        if open_utt is not None:
            opened += 1
            assert open_utt.end_s <= cutter.clock_s + 1e-6 and len(open_utt.pcm) > 0
    live += cutter.flush()
    whole = cut_utterances(pcm, cutter.options)
    assert [(u.start_s, u.end_s) for u in live] == [(u.start_s, u.end_s) for u in whole]
    assert opened > 0
    assert len(cutter.closed_speech_end_s) == len(live)
    assert all(u.start_s < end <= u.end_s for u, end in zip(live, cutter.closed_speech_end_s, strict=True))


def test_the_quick_vad_hears_speech_stop_before_the_cutter_does() -> None:
    pcm = decode_audio(case_audio("pub-004"))[: 16_000 * 30]
    cutter = LiveCutter()
    leads = []
    for i in range(0, len(pcm), 320):
        for utt in cutter.feed(pcm[i : i + 320]):
            quick_end = cutter.quick_voiced_end_s
            assert utt.start_s < quick_end <= utt.end_s and cutter.quiet_s >= 0.3  # the pause that closed it
            leads.append(cutter.closed_speech_end_s[-1] - quick_end)
    assert len(leads) >= 3
    assert float(np.median(leads)) >= 0.05  # mode 2's hangover is what speculations no longer wait for


def test_agreement_commits_what_two_hypotheses_share() -> None:
    la = LocalAgreement()
    assert la.update("patient reports".split()) == []
    assert la.update("Patient reports pain, three".split()) == ["Patient", "reports"]
    assert la.update("patient reports pain three out of".split()) == ["Patient", "reports", "pain", "three"]
    # a hypothesis that contradicts the stable words confirms nothing and takes nothing back
    assert la.update("patience reports pain three out of ten".split()) == ["Patient", "reports", "pain", "three"]
    assert la.tail("patient reports pain three out of ten".split()) == ["out", "of", "ten"]


def test_agreed_prefix_ignores_case_and_punctuation() -> None:
    assert agreed_prefix(["Ten", "oh", "five,"], ["ten", "oh", "five."]) == 3
    assert agreed_prefix(["3/10"], ["3/10,"]) == 1
    assert agreed_prefix(["a", "b"], ["a", "c"]) == 1
