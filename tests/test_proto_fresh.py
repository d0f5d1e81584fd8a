"""The checked-in generated code must match proto/scribe.proto."""

from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    rc = protoc.main(["protoc", f"-I{ROOT / 'proto'}", f"--python_out={tmp_path}", f"--pyi_out={tmp_path}",
                      str(ROOT / "proto" / "scribe.proto")])
    assert rc == 0
    for name in ("scribe_pb2.py", "scribe_pb2.pyi"):
        fresh = (tmp_path / name).read_text()
        checked_in = (ROOT / "proto" / name).read_text()
        assert fresh == checked_in, f"proto/{name} is stale: run `make proto`"
