# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.auengine-installed

.PHONY: install demo test clean system-deps

# Debian packages the tests need: Chromium for the browser test of `auengine serve` (Playwright's own
# browser download does not work offline) and PostgreSQL's binaries for its database tests.
system-deps:
	@if [ ! -x /usr/bin/chromium ] || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium postgresql; \
	  else echo "make: chromium/postgresql missing and not root: their tests will be skipped"; fi; fi

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch/torchvision first, pinned: these exact releases lie on this machine's disk.
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e '.[dev,ray,serve]'
	# facenet-pytorch (MTCNN) last and without its deps: its metadata pins torch<2.3,
	# yet it runs on current torch (tests/test_faces.py checks it on real photos).
	$(BIN)/pip install -q --no-deps facenet-pytorch==2.6.0
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/auengine demo --out demo_out

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) demo_out .pytest_cache
