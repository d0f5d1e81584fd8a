# Two commands on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
CHROMIUM ?= $(or $(SCRIBE_CHROMIUM),/usr/bin/chromium)

.PHONY: install chromium demo test lint proto bench serve eval

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and alone, so the CPU build is taken (a later resolve keeps it)
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/.installed

# tests/test_web_page.py needs Debian's Chromium; installed when run as root, otherwise say so.
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "note: the web page test needs Chromium at $(CHROMIUM): sudo apt-get install chromium"; \
	  fi; \
	fi

demo: install
	$(BIN)/scribe dictate samples/tka-daily-dictation.flac --context samples/tka-daily-dictation.context.json

lint: install
	$(BIN)/ruff check services proto tests bench
	$(BIN)/mypy services bench

test: lint chromium
	$(BIN)/pytest -q

proto: install
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=proto --pyi_out=proto proto/scribe.proto

eval: install
	$(BIN)/scribe eval --json bench/eval-audio.json
	$(BIN)/scribe eval --from-text --json bench/eval-text.json
	$(BIN)/scribe eval tests/data/cases --json bench/eval-ext-audio.json
	$(BIN)/scribe eval tests/data/cases --from-text --json bench/eval-ext-text.json
	$(BIN)/scribe eval tests/data/ambient --from-text --json bench/eval-dev-text.json
	# (bench/eval-dev-audio.json: the same cases rendered with ../shared/eval/render.py, kept outside the
	# repository, then `scribe eval tests/data/ambient --from-asr DIR`; see tests/data/ambient/README.md)
	# held out: read in aggregate only
	$(BIN)/scribe eval ../shared/eval/unseen --aggregate --json bench/eval-unseen-audio.json
	$(BIN)/scribe eval bench/holdout --aggregate --json bench/eval-holdout-audio.json
	# the dictations again in gym noise (public-noisy is seen, unseen-noisy held out)
	$(BIN)/scribe eval ../shared/eval/public-noisy --json bench/eval-public-noisy-audio.json
	$(BIN)/scribe eval ../shared/eval/unseen-noisy --aggregate --json bench/eval-unseen-noisy-audio.json
	$(BIN)/python -m bench.eval_report bench/eval-audio.json bench/eval-text.json bench/eval-ext-audio.json \
	  bench/eval-ext-text.json bench/eval-dev-text.json $(wildcard bench/eval-dev-audio.json) \
	  bench/eval-public-noisy-audio.json \
	  bench/eval-unseen-audio.json bench/eval-unseen-noisy-audio.json bench/eval-holdout-audio.json

bench: install
	$(BIN)/python -m bench.run

serve: install
	$(BIN)/scribe serve
