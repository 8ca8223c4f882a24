# One command each: `make start` sets everything up and runs the default study; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup start test browser docs

$(BIN)/tuner: pyproject.toml
	@echo "installing tuner and its dependencies into $(VENV) (a few minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(BIN)/tuner

start: setup
	@echo "running the default study, studies/digits.yaml, into ./tuner.db"
	$(BIN)/tuner start digits

# The browser tests drive Debian's Chromium (Playwright's own download does not work everywhere): installed when
# missing, unless TUNER_CHROMIUM names another Chromium binary.
browser:
	@if [ -z "$$TUNER_CHROMIUM" ] && [ ! -x /usr/bin/chromium ]; then \
		echo "installing Chromium from the distribution's packages for the browser tests"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; \
	fi

# The whole suite, then the storage, worker and crash tests again in a time zone west and one east of UTC.
test: setup browser
	$(BIN)/python -m pytest -q
	TZ=America/New_York $(BIN)/python -m pytest -q -m zones
	TZ=Asia/Tokyo $(BIN)/python -m pytest -q -m zones

# The documentation site (docs/, mkdocs.yml), served on http://127.0.0.1:8000 and rebuilt as you edit it.
docs: setup
	$(BIN)/python -m mkdocs serve
