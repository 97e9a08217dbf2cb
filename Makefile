# MARS: top-level build. See README for the two commands that matter:
#   make demo    boot a two-node testbed and show MARS on it
#   make check   set-up, build, host unit tests, all VM scenarios
#
# Plain `make` builds everything for both kernels the testbed boots (docu/install.md,
# "Supported kernels"): Debian's stock 7.3 kernel (unchanged, with the rust/ artifacts
# its out-of-tree modules need, regenerated in a cached trixie chroot) and the project's
# 6.12 kernel (from the cache when its inputs are unchanged); mars.ko for each, static
# marsadm and testbed binaries, the nodes' initramfs, the Debian node image and the
# packages. `make KDIR=/path/to/built/linux module` builds mars.ko against another tree.

SHELL := /bin/bash
TOP := $(CURDIR)
BUILD := $(TOP)/build
RUST_TARGET := x86_64-unknown-linux-gnu
STATIC_BIN := $(TOP)/target/$(RUST_TARGET)/release
KDIR ?=
# build/kernels/<line>/: kdir (the tree mars.ko is built against), vmlinuz, mars.ko,
# module/ (its build directory), initramfs.cpio. The first line is the testbed's default.
KERNELS := 7.3 6.12
KBUILD := $(BUILD)/kernels

.PHONY: all setup kernel module previous userland initramfs debian-image deb check check-full check-debug kernel-debug initramfs-debug test-host scenarios demo bench soak sim fuzz clean

# The packages too: the systemd scenarios install them on Debian nodes; and the previous
# protocol's mars.ko and marsadm for the upgrade scenario.
all: initramfs debian-image deb previous

setup:
	@scripts/setup.sh

# The kernels: 7.3 is Debian's stock kernel (scripts/build-stock-kernel.sh: its vmlinuz
# from the package, checked; a chroot with the rustc that built it and an overlay of its
# headers), 6.12 the project's own build (scripts/build-kernel.sh). Each kdir file names
# the directory mars.ko is built against.
kernel: setup
	@mkdir -p $(KBUILD)/7.3 $(KBUILD)/6.12
	@scripts/build-stock-kernel.sh > $(KBUILD)/7.3/kdir.new && mv $(KBUILD)/7.3/kdir.new $(KBUILD)/7.3/kdir
	@ln -sfn "$$(cat $(KBUILD)/7.3/kdir)/vmlinuz" $(KBUILD)/7.3/vmlinuz
	@scripts/build-kernel.sh > $(KBUILD)/6.12/kdir.new && mv $(KBUILD)/6.12/kdir.new $(KBUILD)/6.12/kdir
	@ln -sfn "$$(cat $(KBUILD)/6.12/kdir)/arch/x86/boot/bzImage" $(KBUILD)/6.12/vmlinuz

# mars.ko per kernel, each built in a directory of its own (scripts/build-module.sh),
# never in kernel/; the stock kernel's with its own rustc, in its chroot.
ifeq ($(KDIR),)
module: kernel
	@for k in $(KERNELS); do \
	  scripts/build-module.sh "$$(cat $(KBUILD)/$$k/kdir)" $(KBUILD)/$$k/module $(KBUILD)/$$k/mars.ko || exit 1; \
	done
else
module: setup
	@mkdir -p $(KBUILD)/custom
	@scripts/build-module.sh "$(KDIR)" $(KBUILD)/custom/module $(KBUILD)/custom/mars.ko
endif

# mars.ko and marsadm of the last commit of the previous wire protocol (named in
# testing/previous-protocol) for the testbed's default kernel, from the repository's
# history into a cache keyed by commit and kernel; links in build/previous. Without it
# (no history, an old commit that no longer builds) only that scenario fails, saying so.
previous: kernel
	@scripts/build-previous.sh "$$(cat $(KBUILD)/$(firstword $(KERNELS))/kdir)" $(BUILD)/previous || \
	  { rm -rf $(BUILD)/previous; echo "make: no build of the previous protocol (above): scenario 66 will fail" >&2; }

# Static binaries: they run unchanged inside the testbed nodes (marsadm, the testbed
# agent, and the test-only hostile peer mars-hostile, mars-writer, mars-crashstate and
# bench-tcp-copy).
userland: setup
	RUSTFLAGS="-C target-feature=+crt-static" cargo build --quiet --release --locked \
		--target $(RUST_TARGET) -p marsadm -p mars-testbed

initramfs: module userland
	@for k in $(KERNELS); do \
	  scripts/build-initramfs.sh "$$(cat $(KBUILD)/$$k/kdir)" $(KBUILD)/$$k/mars.ko $(STATIC_BIN) $(KBUILD)/$$k/initramfs.cpio || exit 1; \
	done

# Debian packages in build/deb: mars-tools, mars-module-<stock release> and mars-dkms
# (docu/packaging.md).
deb: module userland
	@scripts/build-deb.sh

# Debian nodes (testbed up --image debian, docu/testbed.md "Images"): Debian 13 with
# the stock 7.3 kernel installed from its packages (the busybox nodes' 7.3 kernel), the
# cached root image with that kernel's vmlinuz and initrd, and the seed disk with this
# checkout's agent and marsadm. mars.ko comes with the packages (make deb).
DEBIAN := $(BUILD)/debian
debian-image: kernel userland
	@mkdir -p $(DEBIAN)
	@scripts/build-debian-image.sh "$$(cat $(KBUILD)/7.3/kdir)" > $(DEBIAN)/image.path
	@for f in root.img vmlinuz initrd.img; do ln -sfn "$$(cat $(DEBIAN)/image.path)/$$f" $(DEBIAN)/$$f; done
	@echo 7.3 > $(DEBIAN)/kernel
	@scripts/build-debian-seed.sh $(STATIC_BIN) $(DEBIAN)/seed.img

check:
	@scripts/check.sh

# Like check, with every case of the forced-failover matrix (scenario 32), not only
# the covering subset.
check-full:
	@MARS_FULL_MATRIX=1 scripts/check.sh

# The debug kernel (docu/testbed.md, "Debug kernel"): 7.3 with KASAN, lockdep and
# kmemleak (scripts/build-debug-kernel.sh), line 7.3-debug; not in KERNELS: plain
# `make` and `make check` neither build nor run it. Its kdir is the directory the
# script prints (laid out like the stock kernel's: mars.ko is built in its chroot).
DEBUG_LINE := 7.3-debug
kernel-debug: setup
	@mkdir -p $(KBUILD)/$(DEBUG_LINE)
	@scripts/build-debug-kernel.sh > $(KBUILD)/$(DEBUG_LINE)/kdir.new && mv $(KBUILD)/$(DEBUG_LINE)/kdir.new $(KBUILD)/$(DEBUG_LINE)/kdir
	@ln -sfn "$$(cat $(KBUILD)/$(DEBUG_LINE)/kdir)/vmlinuz" $(KBUILD)/$(DEBUG_LINE)/vmlinuz

initramfs-debug: kernel-debug userland
	@d=$$(cat $(KBUILD)/$(DEBUG_LINE)/kdir) && \
	scripts/build-module.sh "$$d" $(KBUILD)/$(DEBUG_LINE)/module $(KBUILD)/$(DEBUG_LINE)/mars.ko && \
	scripts/build-initramfs.sh "$$d/root/kdir" $(KBUILD)/$(DEBUG_LINE)/mars.ko $(STATIC_BIN) $(KBUILD)/$(DEBUG_LINE)/initramfs.cpio

# Every busybox scenario once, on the debug kernel, on two instances of their own (d1,
# d2: it can run beside `make check`); any report of the debug kernel fails a scenario
# (testing/run-scenarios). Boots and scenarios take longer on it: longer timeouts, and
# every `retry` of the scenarios waits 4 times as long.
check-debug: initramfs-debug
	@start=$$SECONDS; \
	MARS_SCENARIO_DEBUG_KERNEL=$(DEBUG_LINE) \
	MARS_SCENARIO_INSTANCES="$${MARS_SCENARIO_INSTANCES:-d1 d2}" \
	MARS_TESTBED_BOOT_TIMEOUT=$${MARS_TESTBED_BOOT_TIMEOUT:-900} \
	MARS_SCENARIO_SLOWDOWN=$${MARS_SCENARIO_SLOWDOWN:-4} \
	MARS_SCENARIO_TIMEOUT=$${MARS_SCENARIO_TIMEOUT:-1800} \
	testing/run-scenarios -j $${MARS_SCENARIO_JOBS:-2} $(SCENARIOS) | tee $(BUILD)/scenarios-debug.log; \
	rc=$${PIPESTATUS[0]}; echo "=== make check-debug took $$((SECONDS - start)) s"; exit $$rc

test-host: setup
	cargo test --workspace --locked
	cargo check --locked --quiet --manifest-path kernel/core/fuzz/Cargo.toml --bins

scenarios: all
	@testing/run-scenarios

# demo and bench run on busybox nodes: no Debian image, no packages needed.
demo: initramfs
	@scripts/demo.sh

bench: initramfs
	@scripts/bench.sh

# A seeded soak on its own testbed instance (docu/reliability.md, "Seeded soak"): power-loss crash
# states, host crashes, network faults, handovers and forced failovers under a verifying
# workload. SEED (default random, printed first) repeats a run's actions, CYCLES
# (default 20) their number; the 7.3 kernel (dm-log-writes).
soak: initramfs
	@$(if $(SEED),SEED=$(SEED)) $(if $(CYCLES),CYCLES=$(CYCLES)) scripts/soak.sh

# The protocol simulation (docu/simulation.md) on a range of seeds, e.g. SEEDS=0..10000;
# INVALIDATE=1: with the operator's repairs (full syncs, invalidate, convergence).
# `make check` runs 0..1000 of each in cargo test.
SEEDS ?= 0..10000
sim:
	@cargo run -q --release --locked -p mars-sim -- --seeds $(SEEDS) $(if $(INVALIDATE),--invalidate)

# Coverage-guided fuzzing of the decoders (docu/fuzzing.md); FUZZ_SECONDS per target.
fuzz: setup
	@scripts/fuzz.sh

clean:
	-testing/testbed down 2>/dev/null
	rm -rf $(BUILD) target
