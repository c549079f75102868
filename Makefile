# xenshift: the two entry points of a fresh Debian 12 machine are
#   make demo   install everything, then run the main job on a built-in example
#   make test   install everything, then run the whole test suite
# Both build the environment at .venv/ (Debian's python3 with
# --system-site-packages, so Debian's guestfs module is importable).

SYSTEM_PYTHON := /usr/bin/python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
DEPS_STAMP := $(VENV)/.deps-installed
DEMO_CONFIG := fixtures/configs/suse-vm-install-pv.cfg
DEMO_KVM := .cache/demo/xenshift-pv-a-kvm
PYTEST_ARGS ?=

# libguestfs's appliance hangs under this machine's KVM; TCG works.
# On hosts where KVM works, run with LIBGUESTFS_BACKEND_SETTINGS= (empty).
export LIBGUESTFS_BACKEND_SETTINGS ?= force_tcg

.PHONY: all install debian-deps demo test clean clean-images

all: install

debian-deps:
	./scripts/install-debian-deps

$(VENV_PY):
	$(MAKE) debian-deps
	$(SYSTEM_PYTHON) -m venv --system-site-packages $(VENV)

$(DEPS_STAMP): pyproject.toml | $(VENV_PY)
	$(VENV_PY) -m pip install --quiet --upgrade pip
	$(VENV_PY) -m pip install --quiet -e '.[test]'
	$(VENV_PY) -c 'import guestfs' || { echo "the environment does not see Debian's guestfs module" >&2; exit 1; }
	touch $@

install: debian-deps $(DEPS_STAMP)

demo: install
	@echo "== xenshift config lint $(DEMO_CONFIG)"
	$(VENV)/bin/xenshift config lint $(DEMO_CONFIG)
	@echo "== xenshift config show $(DEMO_CONFIG)"
	$(VENV)/bin/xenshift config show $(DEMO_CONFIG)
	@echo "== build the built-in Debian 12 Xen PV guest (cached in .cache/images; a few minutes the first time)"
	$(VENV_PY) -m fixtures.images a
	@echo "== xen-inspect: what the PV guest needs to boot elsewhere"
	$(VENV)/bin/xen-inspect "$$($(VENV_PY) -m fixtures.images a)"
	@echo "== xen2kvm: convert its disks and config for KVM, boot the result under QEMU, show the change report"
	mkdir -p $(dir $(DEMO_KVM)) && rm -rf $(DEMO_KVM)
	$(VENV)/bin/xen2kvm "$$($(VENV_PY) -m fixtures.images a)" -o $(DEMO_KVM) --verify-boot
	./scripts/demo-migrate

# pytest exits 5 when it collects no tests: that is a broken set-up, not a pass.
test: install
	$(VENV_PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: the set-up is broken" >&2; exit 1; fi; \
	exit $$rc

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# Built guest images survive `make clean`: rebuilding them takes minutes.
clean-images:
	rm -rf .cache/images
