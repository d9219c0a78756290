# lighttpd_tensorflow.serving: development, test and demo entry points.
# `make test` is what CI runs (.ci/run); `make demo` starts a local fleet and serves a prediction.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV     := $(CURDIR)/.venv
BIN      := $(VENV)/bin
CACHE    := $(CURDIR)/.cache
COLL_DIR := $(CACHE)/collections/ansible_collections/lighttpd_tensorflow/serving
SCENARIO ?= default
# Scenarios and the Debian release each runs on in `make test` with the development core
# (requirements.txt); the lighttpd scenario's client is Debian 13. The whole-stack `default`
# scenario (both roles also on Debian 13: stack2) runs in `make compat` on the OLDEST supported
# ansible-core with the dependency floors. The tfserving scenario (the role alone: removal and
# undo, roll-out on loopback, invalid input), lighttpd on Debian 13 and default on the
# development core run on demand (`make test-all`, or make molecule SCENARIOS=tfserving:debian13):
# `make test` must stay under an hour on 2 cores (docs/testing.md). Images:
# localhost/lts-debianNN-systemd (built by `make images`), or MOLECULE_IMAGE_DEBIAN12 /
# MOLECULE_IMAGE_DEBIAN13 (any systemd image).
SCENARIOS ?= lighttpd:debian12 cluster:debian12
ON_DEMAND_SCENARIOS := tfserving:debian13 lighttpd:debian13 default:debian12

export CONTAINERS_CONF := $(CACHE)/containers.conf
export ANSIBLE_COLLECTIONS_PATH := $(CACHE)/collections
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(BIN):$(PATH)
export PY_COLORS := 0
export ANSIBLE_FORCE_COLOR := 0
# Scenario tests marked on_demand (pytest.ini) stay out of `make test`, which must fit CI's time
# on 2 cores; `make test-all` (ON_DEMAND=1) runs them too.
export PYTEST_ADDOPTS := $(if $(ON_DEMAND),,-m "not on_demand")

.PHONY: help venv dev scanner promtool podman images standin oidc-provider lint unit compat molecule test test-all bench demo demo-destroy build clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/ansible-playbook: requirements.txt constraints.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

venv: $(BIN)/ansible-playbook ## create the pinned Python tool environment in .venv

$(CACHE)/sslyze/bin/sslyze: tests/scanner/requirements.txt
	python3 -m venv $(CACHE)/sslyze
	$(CACHE)/sslyze/bin/pip install --quiet -r tests/scanner/requirements.txt
	touch $@

scanner: $(CACHE)/sslyze/bin/sslyze ## the TLS scanner the default scenario runs (sslyze, pinned, in .cache/sslyze)

# promtool for the rules' unit tests: Debian's prometheus package, unpacked (not installed: no
# service starts on this machine).
PROMTOOL := $(CACHE)/prometheus/usr/bin/promtool
$(PROMTOOL):
	mkdir -p $(CACHE)/prometheus
	cd $(CACHE)/prometheus && { apt-get download prometheus || { apt-get update && apt-get download prometheus; }; } \
	  && dpkg-deb -x prometheus_*.deb . && rm -f prometheus_*.deb

promtool: $(PROMTOOL) ## promtool from Debian's prometheus package, in .cache/prometheus

dev: venv ## make the collection importable from this clone (ANSIBLE_COLLECTIONS_PATH=.cache/collections)
	mkdir -p $(dir $(COLL_DIR))
	ln -sfn $(CURDIR) $(COLL_DIR)

podman: ## install podman when missing and write the project-local containers.conf
	tests/podman/setup.sh $(CONTAINERS_CONF)

images: podman ## build (or reuse) the systemd test-host images
	tests/images/build.sh bookworm trixie

oidc-provider: $(CACHE)/oidc-provider.tar.gz ## the test OpenID Provider (oidc-provider from npm, pinned by its lock file)

$(CACHE)/oidc-provider.tar.gz: tests/oidc-provider/package.json tests/oidc-provider/package-lock.json tests/oidc-provider/server.mjs
	@command -v npm >/dev/null || apt-get install -y --no-install-recommends npm \
	  || { apt-get update && apt-get install -y --no-install-recommends npm; }
	rm -rf $(CACHE)/oidc-provider && mkdir -p $(CACHE)/oidc-provider
	cp $^ $(CACHE)/oidc-provider/
	cd $(CACHE)/oidc-provider && npm ci --omit=dev --no-audit --no-fund
	tar -C $(CACHE)/oidc-provider -czf $@.tmp . && mv $@.tmp $@

standin: podman ## build the TF Serving stand-in packages and the signed local apt repository
	tests/standin/build-repo.sh $(CACHE)/standin-repo

lint: dev ## ansible-lint (production profile), yamllint, ansible-test sanity, the tarball and EE build context
	yamllint --strict .
	ansible-lint --profile production
	tests/sanity/run.sh
	tests/compat/package.sh

# Debian's varnish runs the prediction cache's VCL in a unit test; on a host booted with systemd its
# own varnish.service (every address, port 6081) is masked first, as the edge_cache role does.
UNIT_PACKAGES := lua5.4 lua-luaossl lua-cjson varnish varnish-modules
# pytest-xdist workers for the unit tests: most of their time is spent waiting on the daemons,
# timers and retries they run, so 4 workers finish in about half the time even on 2 cores.
export UNIT_WORKERS ?= 4
unit: dev promtool ## unit tests: filters, the edge's Lua script and exporter, the cache's VCL, the Prometheus rules (promtool)
	@dpkg-query -W $(UNIT_PACKAGES) >/dev/null 2>&1 || { \
	  if [ -d /run/systemd/system ]; then systemctl mask varnish.service varnishncsa.service; fi; \
	  apt-get install -y --no-install-recommends $(UNIT_PACKAGES) \
	  || { apt-get update && apt-get install -y --no-install-recommends $(UNIT_PACKAGES); }; }
	PROMTOOL=$(PROMTOOL) python -m pytest -q -n $(UNIT_WORKERS) tests/unit

molecule: dev scanner images standin oidc-provider ## every scenario (SCENARIOS), or one: make molecule SCENARIO=NAME
	@if [ "$(origin SCENARIO)" = "command line" ]; then \
	  list="$(firstword $(filter $(SCENARIO):%,$(SCENARIOS) $(ON_DEMAND_SCENARIOS)))"; \
	else list="$(SCENARIOS)"; fi; \
	for item in $$list; do \
	  name=$${item%%:*}; distro=$${item##*:}; start=$$(date +%s); \
	  override=MOLECULE_IMAGE_$${distro^^}; image=$${!override:-localhost/lts-$$distro-systemd}; \
	  echo "=== molecule $$name on $$distro ($$image)"; \
	  MOLECULE_IMAGE=$$image MOLECULE_CLIENT_IMAGE=$${MOLECULE_IMAGE_DEBIAN13:-localhost/lts-debian13-systemd} \
	    molecule test -s $$name; \
	  echo "=== molecule $$name on $$distro passed in $$(( $$(date +%s) - start )) s"; \
	done

# `make test` runs sanity and the unit tests on the oldest and the newest supported core (the
# development core, between them, runs in `make lint unit`); `make test-all` on every minor of
# cores.txt (COMPAT_CORES=all). Each core costs about 2 min 45 s on 2 cores.
COMPAT_CORES ?= $(shell awk '!/^\#/ && NF {print $$1}' tests/compat/cores.txt | sed -n '1p;$$p')
compat: dev scanner promtool images standin ## oldest and newest ansible-core (COMPAT_CORES=all: every minor): sanity and unit tests; default scenario on the oldest, dependency floors
	PROMTOOL=$(PROMTOOL) tests/compat/run.sh $(filter-out all,$(COMPAT_CORES))
	tests/compat/oldest-default.sh

test: lint unit compat molecule ## everything CI runs

test-all: ## make test plus the on-demand scenarios (tfserving, lighttpd on Debian 13) and on-demand tests
	$(MAKE) test SCENARIOS="$(SCENARIOS) $(ON_DEMAND_SCENARIOS)" ON_DEMAND=1 COMPAT_CORES=all

BENCH_VENV := $(CACHE)/bench-venv
$(BENCH_VENV)/bin/python: tests/bench/requirements.txt
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet -r tests/bench/requirements.txt
	touch $@

bench: dev podman images standin $(BENCH_VENV)/bin/python ## the edge vs nginx vs the backend on a Debian 12 and a Debian 13 test host, and provisioning (.cache/bench/; not in make test)
	tests/images/build.sh bookworm trixie
	tests/bench/bench.sh

build: dev ## build the Galaxy tarball
	ansible-galaxy collection build --force --output-path $(CACHE)/dist

demo: dev podman standin ## local fleet (1 edge, 2 model servers) serving a prediction over HTTPS
	tests/images/build.sh bookworm
	tests/demo/demo.sh up

demo-destroy: ## remove the demo fleet
	tests/demo/demo.sh down

clean: ## remove the virtual environment and caches (not the podman images)
	rm -rf $(VENV) $(CACHE)/collections $(CACHE)/dist
