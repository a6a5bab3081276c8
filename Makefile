# Two commands for a new user: `make demo` and `make test`. Both build the same .venv.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
PIP     := $(BIN)/pip -q --disable-pip-version-check
FASHION := /usr/share/datasets/fashion-mnist
.DEFAULT_GOAL := demo
.PHONY: demo test lint venv dev data browser npm clean-venv

$(BIN)/python:
	$(PY) -m venv $(VENV)

# torch first, from the pinned CPU wheel; constraints.txt stops any dependency from swapping it.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install torch==2.13.0
	$(PIP) install -c constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -c constraints.txt -e '.[dev]'
	touch $@

# Front-end packages for the browser tests (axe-core, onnxruntime-web), served locally, never from a CDN.
NPM_DIRS := tests/js examples/onnx-web web/xr
npm:
	@if command -v npm >/dev/null 2>&1; then \
	  for d in $(NPM_DIRS); do [ -f $$d/package.json ] && npm install --prefix $$d --no-audit --no-fund --silent || true; done; \
	else echo "npm: not found; browser tests that need axe-core/onnxruntime-web will be skipped"; fi

venv: $(VENV)/.installed
dev: $(VENV)/.installed-dev

# Debian's real data, when missing and apt-get is usable: Fashion-MNIST, the colour emoji (the Noto Color
# Emoji font and Unicode's emoji list), the Open Clip Art pictures (and their SVG twins, whose metadata give the
# captions), and the sound sources (FluidSynth with a
# General MIDI soundfont for gm-notes, espeak-ng for spoken-digits); otherwise say why and go on.
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
EMOJI_LIST := /usr/share/unicode/emoji/emoji-test.txt
CLIPART    := /usr/share/openclipart/png
CLIPART_SVG := /usr/share/openclipart/svg
SOUNDFONT  := /usr/share/sounds/sf2/TimGM6mb.sf2
data:
	@missing=""; \
	if ls $(FASHION)/train-images-idx3-ubyte* >/dev/null 2>&1 || ls $${GANSTUDIO_DATA:-/nonexistent}/fashion-mnist/train-images-idx3-ubyte* >/dev/null 2>&1; then \
	  echo "data: Fashion-MNIST found"; else missing="dataset-fashion-mnist"; fi; \
	if [ -f $(EMOJI_FONT) ] && [ -f $(EMOJI_LIST) ]; then echo "data: emoji found"; \
	else missing="$$missing fonts-noto-color-emoji unicode-data"; fi; \
	if [ -d $(CLIPART) ]; then echo "data: clip art found"; else missing="$$missing openclipart-png"; fi; \
	if [ -d $(CLIPART_SVG) ]; then echo "data: clip art metadata found"; else missing="$$missing openclipart-svg"; fi; \
	if command -v fluidsynth >/dev/null 2>&1 && [ -f $(SOUNDFONT) ]; then echo "data: fluidsynth + GM soundfont found"; \
	else missing="$$missing fluidsynth timgm6mb-soundfont"; fi; \
	if command -v espeak-ng >/dev/null 2>&1; then echo "data: espeak-ng found"; else missing="$$missing espeak-ng"; fi; \
	if [ -z "$$missing" ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "data: installing Debian's$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null) \
	    || echo "data: apt-get could not install$$missing; the demo will use what it can find"; \
	else \
	  echo "data:$$missing not found and apt-get is not usable (need root); the demo will fall back"; \
	fi

# Debian's Chromium for the browser tests (a test tool must never download its own browser).
browser:
	@if [ -x /usr/bin/chromium ]; then echo "browser: chromium found"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "browser: installing Debian's chromium"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "browser: chromium missing and apt-get not usable; browser tests will be skipped"; fi

demo: venv data
	$(BIN)/ganstudio demo

# Lint, formatting and the architecture contract (pyproject.toml: import-linter's layers and no cycles
# between sibling modules); seconds, so they run first and a layering mistake fails before the suite.
LINT_PATHS := src tests benchmarks examples
lint: dev
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

# The suite; the type checker runs beside it (the tests use one core, mypy takes the other), and then the
# tests marked `numerics` (float results whose rounding depends on the CPU's kernels) run again on other
# kernel paths, so that a tolerance which holds only for this machine's kernels fails here and not on a
# user's CPU: ATen's portable `default` kernels, with oneDNN's and MKL's (convolutions, GEMMs) capped at
# AVX2 (no-ops where the CPU has no more). About 12 s. Any failing part fails `make test`.
test: lint data browser npm
	@mkdir -p .make; ($(BIN)/mypy > .make/mypy.log 2>&1; echo $$? > .make/mypy.rc) & \
	$(BIN)/python -m pytest -q -p no:cacheprovider; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; rc=1; fi; \
	  echo "numerics tests again on other kernels: ATen default, oneDNN and MKL AVX2"; \
	  ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \
	    $(BIN)/python -m pytest -q -p no:cacheprovider -m numerics \
	    $$(grep -rl --include='test_*.py' 'mark\.numerics' tests) || rc=1; \
	  wait; echo "mypy:"; cat .make/mypy.log; [ "$$(cat .make/mypy.rc)" = 0 ] || rc=1; \
	  exit $$rc

clean-venv:
	rm -rf $(VENV)
