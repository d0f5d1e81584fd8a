"""`scribe status` figures come from the real Redis streams, and carry no transcript words."""

from __future__ import annotations

import subprocess
import sys

from proto import scribe_pb2 as pb
from services.common import keys
from services.common.bus import DeliveryPolicy
from services.common.consumer import report_error
from services.common.redis_bus import RedisBus
from services.ops import read_status


async def test_backlog_pending_and_errors_are_reported(redis_url: str) -> None:
    bus = RedisBus(redis_url, DeliveryPolicy(block_s=0.05))
    await bus.ensure_group(keys.UTTERANCES, keys.GROUP_ASR)
    for seq in range(3):
        await bus.publish(keys.UTTERANCES, pb.AudioChunk(session_id="s", seq=seq, sample_rate=16_000))
    (taken,) = await bus.read(keys.UTTERANCES, keys.GROUP_ASR, "asr-box1-1")
    await report_error(bus, "asr", "s", "bad_audio", "utterance 9 is 8000 Hz, not 16000", fatal=True)
    await bus.close()

    status = await read_status(redis_url)
    asr = next(s for s in status.stages if s.group == keys.GROUP_ASR)
    assert asr.length == 3 and asr.pending == 1 and asr.lag == 2
    assert [(name, pending) for name, pending, _idle in asr.consumers] == [("asr-box1-1", 1)]
    assert status.errors_by_category == {"asr:bad_audio": 1}
    assert taken.deliveries == 1


def test_status_command_prints_a_table(redis_url: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "services.cli", "status", "--redis", redis_url],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "scribe stages" in proc.stdout and "no recent errors" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "services.cli", "status", "--redis", "redis://127.0.0.1:1/0"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("scribe: error: cannot connect to Redis")


def test_redis_passwords_never_reach_messages() -> None:
    from services.common.auth import redact_url

    assert redact_url("redis://:s3cret@db.clinic:6379/0") == "redis://:***@db.clinic:6379/0"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    proc = subprocess.run([sys.executable, "-m", "services.cli", "status", "--redis", "redis://:s3cret@127.0.0.1:1/0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "s3cret" not in proc.stderr and "***" in proc.stderr
