# Konferenco — the only set-up a newcomer needs.
#
#   make setup   system packages (as root, where missing), services, .venv, JS test client
#   make run     a demo appliance on http://127.0.0.1:8080 (data in ./var/demo); with
#                HUB=URL ENROL_TOKEN=ke1_… DATA=var/box it enrols a new box with that hub instead
#   make hub     the hub on http://127.0.0.1:8000 against the local PostgreSQL (database konferenco)
#   make test    setup, then the whole test suite
#   make bench   the benchmarks, written to docs/benchmarks.md, and the scaling model fed by them (docs/scaling.md)
#   make lint    ruff, mypy and the import contracts (import-linter)
#   make screenshots-kiosk   every kiosk screen, portrait and landscape, into docs/screenshots/kiosk/
#   make screenshots         every page's screenshots (kiosk, door, room signs, front page) into docs/screenshots/
#
# Every step is idempotent and cheap when its result is already there: stamps
# under .venv/ remember what was installed, and are redone when their inputs change.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATA ?= var/demo
PORT ?= 8080
# The demo's own Mosquitto for the room signs (beside, not instead of, the system broker on 1883).
SIGNS_BROKER ?= var/demo-mosquitto
SIGNS_MQTT_PORT ?= 1884
SIGNS_WS_PORT ?= 9001
HUB ?=
ENROL_TOKEN ?=
HUB_DATABASE ?= postgresql://postgres@127.0.0.1:5432/konferenco
HUB_PORT ?= 8000

# Debian packages the project and its tests use (real components, not mocks).
# Fonts: DejaVu for Latin, Greek and Cyrillic badge names, Droid Fallback for Chinese, Japanese, Korean.
# nftables: the lossy-uplink drill drops packets with it (tests/drills/netns.py).
# podman, runc, mmdebstrap: the container images, built and run with no registry (docs/images.md).
APT_PACKAGES := postgresql mosquitto mosquitto-clients pcscd vsmartcard-vpcd libpcsclite-dev swig chromium \
	fonts-dejavu-core fonts-droid-fallback nftables podman runc mmdebstrap

.PHONY: setup system-packages services run hub test bench lint clean fuzz screenshots-kiosk screenshots images

setup: system-packages services $(VENV)/.installed tests/js/node_modules/.installed

system-packages:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "warning: missing Debian packages:$$missing (run 'make setup' as root to install them)"; exit 0; \
	fi; \
	echo "installing Debian packages:$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null

services:
	@if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then \
		if [ "$$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null 2>&1; then \
			echo "starting PostgreSQL"; \
			pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | sort -V | tail -n1) main start; \
		else echo "warning: PostgreSQL is not answering on 127.0.0.1:5432"; fi; \
	fi
	@if command -v mosquitto >/dev/null 2>&1 && ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then echo "starting Mosquitto"; mosquitto -d -c /etc/mosquitto/mosquitto.conf; \
		else echo "warning: Mosquitto is not answering on 127.0.0.1:1883"; fi; \
	fi

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# pyscard (extra "pcsc") builds against libpcsclite with swig: only where they are present.
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q --upgrade pip
	@extras=dev; \
	if command -v swig >/dev/null 2>&1 && [ -e /usr/include/PCSC/winscard.h ]; then extras=dev,pcsc; fi; \
	echo "installing konferenco[$$extras] and its dependencies into $(VENV) (a minute the first time)"; \
	$(PY) -m pip install --progress-bar on -e ".[$$extras]"
	@touch $@

tests/js/node_modules/.installed: tests/js/package.json tests/js/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd tests/js && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "warning: npm missing; the y-websocket interoperability test will be skipped"; fi

run: setup
	@if [ -n "$(ENROL_TOKEN)" ] && [ ! -e "$(DATA)/appliance.json" ]; then \
		$(VENV)/bin/konferenco appliance enroll --data $(DATA) --hub $(HUB) --token $(ENROL_TOKEN) --port $(PORT); \
	else $(VENV)/bin/konferenco demo seed --data $(DATA) --if-missing; fi
	@$(VENV)/bin/konferenco demo credentials --data $(DATA) --port $(PORT)
	@if command -v mosquitto >/dev/null 2>&1; then \
		$(VENV)/bin/konferenco appliance signage broker-config --data $(DATA) --out $(SIGNS_BROKER) \
			--port $(SIGNS_MQTT_PORT) --ws-port $(SIGNS_WS_PORT) --bind 127.0.0.1 >/dev/null && \
		{ (exec 3<>/dev/tcp/127.0.0.1/$(SIGNS_MQTT_PORT)) 2>/dev/null || mosquitto -d -c $(SIGNS_BROKER)/mosquitto.conf; } && \
		echo "room signs: http://127.0.0.1:$(PORT)/signage (Mosquitto for them on 127.0.0.1:$(SIGNS_MQTT_PORT), WebSockets $(SIGNS_WS_PORT))"; \
	else echo "no Mosquitto: the room signs at /signage will say their broker is not set up"; fi
	@$(VENV)/bin/konferenco appliance serve --data $(DATA) --port $(PORT)

hub: setup
	@$(VENV)/bin/konferenco hub migrate --database-url $(HUB_DATABASE) --create-database
	@echo "First time? Create your organization in another terminal:"
	@echo "  $(VENV)/bin/konferenco hub create-organization --database-url $(HUB_DATABASE) --name 'My events' --slug my-events --owner-email you@example.com"
	@echo "then sign in at http://127.0.0.1:$(HUB_PORT)/console"
	@$(VENV)/bin/konferenco hub serve --database-url $(HUB_DATABASE) --secrets var/hub/secrets --port $(HUB_PORT)

test: setup
	$(PY) -m pytest

# Schemathesis against both apps for FUZZ_SECONDS each (make test runs the same test for 75 s).
FUZZ_SECONDS ?= 360
fuzz: setup
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(PY) -m pytest tests/fuzz -q

# The appliance and hub container images from a pinned Debian base (docs/images.md).
images: setup
	$(PY) -m images.build

bench: setup
	$(PY) -m bench.run
	$(PY) -m bench.scaling_model --write

# The kiosk's screens in real Chromium (the same test that checks each with axe-core); look at them.
screenshots-kiosk: setup
	KONFERENCO_SCREENSHOTS=docs/screenshots $(PY) -m pytest tests/kiosk_ui/test_kiosk_screens.py -q

# Every page's screenshots (the same tests that check each state with axe-core); look at them.
screenshots: setup
	KONFERENCO_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q tests/kiosk_ui/test_kiosk_screens.py \
		tests/kiosk_ui/door/test_door_screens.py tests/kiosk_ui/signage/test_sign_screens.py \
		tests/kiosk_ui/front/test_front_screens.py tests/tui/test_screenshots_published.py

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy konferenco appliance hub drivers sync kiosk_ui talos images
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) var tests/js/node_modules .pytest_cache .mypy_cache .ruff_cache
