# Two commands on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: install demo test lint proto bench serve eval

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and alone, so the CPU build is taken (a later resolve keeps it)
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/scribe dictate samples/tka-daily-dictation.flac --context samples/tka-daily-dictation.context.json

lint: install
	$(BIN)/ruff check services proto tests bench
	$(BIN)/mypy services bench

test: lint
	$(BIN)/pytest -q

proto: install
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=proto --pyi_out=proto proto/scribe.proto

eval: install
	$(BIN)/scribe eval --json bench/eval-audio.json
	$(BIN)/scribe eval --from-text --json bench/eval-text.json
	$(BIN)/scribe eval tests/data/cases --json bench/eval-ext-audio.json
	$(BIN)/scribe eval tests/data/cases --from-text --json bench/eval-ext-text.json
	$(BIN)/python -m bench.eval_report bench/eval-audio.json bench/eval-text.json bench/eval-ext-audio.json bench/eval-ext-text.json

bench: install
	$(BIN)/python -m bench.run

serve: install
	$(BIN)/scribe serve
