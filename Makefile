# dcmharness: `make run` (the main job) and `make test` (the tests) do all set-up first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .setup-stamps
RUST_MANIFEST := backends/rust_render/Cargo.toml
OUT ?= out
JOBS ?= 2

.PHONY: setup run test lint pytest cargo-test schema bench clean dicom-rs

setup: $(STAMPS)/apt $(STAMPS)/venv rust java $(STAMPS)/npm-dcmjs dicom-rs $(STAMPS)/npm-cornerstone
	@$(PY) -m compileall -q contract adapters backends interface dcmharness benchmarks  # bytecode, as an install would (PYTHONDONTWRITEBYTECODE may be set)
	@echo "setup: ready"

# Debian packages (dcmtk, Orthanc, PixelMed, GDCM, Chromium, Rust crates): re-run when the list changes.
$(STAMPS)/apt: apt-packages.txt
	@mkdir -p $(STAMPS)
	@missing=$$(grep -v '^\s*#' apt-packages.txt | grep -v '^\s*$$' | while read -r p; do \
		dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q 'install ok installed' || echo "$$p"; done); \
	if [ -n "$$missing" ]; then \
		echo "setup: installing Debian packages: $$missing"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi
	@touch $@

# The Python environment: the package (editable) with test and data extras, from PyPI.
$(STAMPS)/venv: pyproject.toml
	@mkdir -p $(STAMPS)
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip >/dev/null
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

# Our Rust renderer, built offline from Debian's crates (cargo skips the work when nothing changed).
rust: $(STAMPS)/apt
	@if [ -f $(RUST_MANIFEST) ]; then \
		cd backends/rust_render && cargo build --release --offline -q; \
	fi

# The project's PixelMed launchers (compiled against Debian's jar).
java: $(STAMPS)/apt
	@bash adapters/pixelmed/build.sh

# The dcmjs backend's JavaScript (dcmjs-imaging and its dependencies) at the versions of the committed lockfile,
# into adapters/dcmjs/node_modules (git-ignored): re-run when the lockfile changes. Install scripts are not run.
$(STAMPS)/npm-dcmjs: adapters/dcmjs/package-lock.json adapters/dcmjs/package.json
	@mkdir -p $(STAMPS)
	cd adapters/dcmjs && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# DICOM-rs from crates.io at a pinned version into a project-local, git-ignored folder (adapters/dicom_rs finds
# it there before PATH): dicom-toimage, dicom-dump, and dicom-transcode (a binary of the crate dicom-pixeldata,
# feature cli; charls for JPEG-LS, built from source with cmake and g++). One shared target dir lets the three
# builds reuse their common crates (measured on 2 cores: 5.2 + 3.1 + 2.7 min); removed once installed.
# Stamped per version: a no-op afterwards (cargo install would also skip what --root already holds).
DICOM_RS_VERSION := 0.10.1
DICOM_RS_ROOT := .tools/dicom-rs
DICOM_RS_INSTALL := CARGO_TARGET_DIR=.tools/cargo-target cargo install --locked --quiet --root $(DICOM_RS_ROOT)

dicom-rs: $(STAMPS)/dicom-rs-$(DICOM_RS_VERSION)

$(STAMPS)/dicom-rs-$(DICOM_RS_VERSION): | $(STAMPS)/apt
	@mkdir -p $(STAMPS)
	@echo "setup: building DICOM-rs $(DICOM_RS_VERSION) into $(DICOM_RS_ROOT) (cargo install --locked, ~11 min)"
	$(DICOM_RS_INSTALL) dicom-toimage@$(DICOM_RS_VERSION)
	$(DICOM_RS_INSTALL) dicom-dump@$(DICOM_RS_VERSION)
	$(DICOM_RS_INSTALL) dicom-pixeldata@$(DICOM_RS_VERSION) --features cli,charls --bin dicom-transcode
	@rm -rf .tools/cargo-target

# The cornerstone backend's page: Cornerstone3D and puppeteer-core from npm (pinned lockfile), bundled by esbuild.
CORNERSTONE := adapters/cornerstone
$(STAMPS)/npm-cornerstone: $(CORNERSTONE)/package.json $(CORNERSTONE)/package-lock.json $(CORNERSTONE)/build.mjs $(CORNERSTONE)/page/entry.mjs $(CORNERSTONE)/page/index.html
	@mkdir -p $(STAMPS)
	cd $(CORNERSTONE) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && node build.mjs
	@touch $@

schema: $(STAMPS)/venv
	$(PY) -m dcmharness.contract.schema --write

OPS := dump info stats histogram transcode anonymize validate decode nifti volume network dicomweb modify from_json

# The main job: a batch of requests through `dcmharness run` (out/demo), then the conformance run of every
# available backend over the real and synthetic files (out/conform/report.html), then that of each other op
# (out/conform-<op>/report.html).
run: setup
	@mkdir -p $(OUT)/demo
	$(PY) -m dcmharness.interface.samples demo-requests --out $(OUT)/demo > $(OUT)/demo/requests.jsonl
	$(VENV)/bin/dcmharness run --request $(OUT)/demo/requests.jsonl
	$(VENV)/bin/dcmharness conform --jobs $(JOBS) --out $(OUT)/conform
	@for op in $(OPS); do echo "== dcmharness conform --op $$op"; \
		$(VENV)/bin/dcmharness conform --op $$op --quiet --out $(OUT)/conform-$$op || exit $$?; done

lint: $(STAMPS)/venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

cargo-test: rust
	@if [ -f $(RUST_MANIFEST) ]; then cd backends/rust_render && cargo test --release --offline -q; fi

pytest: setup
	$(VENV)/bin/pytest -q

test: setup lint cargo-test pytest

bench: setup
	$(PY) -m benchmarks

clean:
	rm -rf $(OUT) $(STAMPS) backends/rust_render/target .tools
