# Two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export DJANGO_SETTINGS_MODULE := config.settings
export PIP_DISABLE_PIP_VERSION_CHECK := 1

RUST_SOURCES := $(wildcard metrics_rs/src/*.rs) metrics_rs/Cargo.toml metrics_rs/Cargo.lock \
	metrics_rs/__init__.pyi metrics_rs/py.typed
PO_FILES := $(wildcard locale/*/LC_MESSAGES/django.po)
MO_FILES := $(PO_FILES:.po=.mo)

.PHONY: test-postgres demo test setup system-deps migrate messages demo-data lint pytest cargo-test bench demo-model clean

## demo: set everything up and start the portal with demo data on http://127.0.0.1:8000
demo: setup migrate demo-data
	./scripts/run_demo.sh

## test: set everything up and run every test (pytest, cargo test, lint)
test: setup
	$(PY) -m pytest -p no:cacheprovider -q
	$(MAKE) cargo-test
	$(MAKE) lint

## test-postgres: the pytest suite again on Debian's PostgreSQL (started on loopback)
test-postgres: setup
	DATABASE_URL=$$(./scripts/start_postgres.sh) $(PY) -m pytest -p no:cacheprovider -q

setup: system-deps $(VENV)/.installed-crate $(MO_FILES)

system-deps:
	@WITH_POSTGRES=$${WITH_POSTGRES:-0} ./scripts/install_system_deps.sh

$(VENV)/.installed-deps: pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q -c requirements.lock --upgrade pip maturin
	$(PIP) install -q -c requirements.lock -r requirements.lock
	touch $@

# Installing the project builds metrics_rs (release, abi3) with maturin.
$(VENV)/.installed-crate: $(VENV)/.installed-deps $(RUST_SOURCES)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PIP) install -q --no-build-isolation --no-deps .
	touch $@

locale/%/LC_MESSAGES/django.mo: locale/%/LC_MESSAGES/django.po
	msgfmt --check -o $@ $<

migrate: setup
	mkdir -p var
	$(PY) manage.py migrate --noinput -v 0

demo-data: migrate
	$(PY) manage.py seed_demo

## demo-model: retrain the committed demo detector from the generated training task
demo-model: setup
	$(PY) -m demo.train --out demo/artifacts

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	cd metrics_rs && cargo fmt --check
	cd metrics_rs && cargo clippy --all-targets --quiet -- -D warnings
	$(VENV)/bin/mypy config projects validation imaging picklecheck
	$(VENV)/bin/lint-imports
	cd metrics_rs && ../$(PY) -m mypy.stubtest metrics_rs --allowlist stubtest-allowlist.txt

cargo-test:
	cd metrics_rs && cargo test --quiet

## bench: every benchmark, printing ratios against the peers measured in the same run
bench: setup
	$(PY) bench/metrics.py
	$(PY) bench/evaluate_cli.py
	$(PY) bench/pipeline.py --memory
	$(PY) bench/instances_save.py
	$(PY) bench/whatif.py
	$(PY) bench/pages.py
	$(PY) bench/load.py
	DATABASE_URL=$$(./scripts/start_postgres.sh portal_bench --fresh) $(PY) bench/load.py

## gpu-wheel: the wheels bench/gpu_check.sh unpacks on a GPU machine (Python 3.12): metrics_rs
## (abi3) and simplejpeg, which the engine needs beside torch, numpy and Pillow
GPU_PYTHON ?= 3.12
gpu-wheel: setup
	rm -rf dist && $(VENV)/bin/maturin build --release --out dist --quiet
	$(PIP) download -q --no-deps --only-binary=:all: --python-version $(GPU_PYTHON) \
		--platform manylinux2014_x86_64 --dest dist $$(grep '^simplejpeg==' requirements.lock)

## lock: refresh requirements.lock from the current environment
lock:
	$(PIP) freeze --exclude model-validation-portal > requirements.lock

clean:
	rm -rf var/ metrics_rs/target
