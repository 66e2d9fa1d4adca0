# Everything a developer or CI needs, from a fresh clone.
PY      := .venv/bin/python
PYTEST  := $(PY) -m pytest
STAMP   := .venv/.installed

.PHONY: venv system-packages artifacts test test-unit test-functional test-integration lab-up lab-down demo bench clean

$(STAMP): requirements/base.txt requirements/test.txt setup.cfg
	python3 -m venv .venv
	.venv/bin/pip install -q --upgrade pip wheel setuptools
	.venv/bin/pip install -q -r requirements/test.txt
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the tests use: prometheus brings promtool and the server (the alert rules,
# scrape config and dashboard queries are proven with them), prometheus-node-exporter the host
# metrics (only a Recommends of prometheus, so named). Installed by name through apt when missing.
SYSTEM_PACKAGES := prometheus prometheus-node-exporter
system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

# Kafka, ZooKeeper and the JMX exporter resolved from Maven Central into ~/.cache/kafkasalt.
artifacts: venv
	$(PY) -m lab.artifacts build

test-unit: venv system-packages
	$(PYTEST) tests/unit

test-functional: venv system-packages artifacts
	$(PYTEST) tests/functional

test-integration: venv artifacts
	$(PYTEST) tests/integration

# The full suite: unit, functional (real processes) and integration (the three-host lab).
test: venv system-packages artifacts
	$(PYTEST) tests

lab-up: venv artifacts
	bin/lab up

lab-down:
	bin/lab down

demo: venv artifacts
	bin/demo

bench: venv artifacts
	$(PY) tests/bench/bench_grains.py

clean: lab-down
	rm -rf .lab build dist *.egg-info
