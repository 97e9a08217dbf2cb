# MARS: top-level build. See README for the two commands that matter:
#   make demo    boot a two-node testbed and show MARS on it
#   make check   set-up, build, host unit tests, all VM scenarios
#
# Plain `make` builds everything: the testbed kernel (from the cache when its inputs are
# unchanged), mars.ko against it, static marsadm and testbed binaries, and the nodes'
# initramfs. `make KDIR=/path/to/built/linux` builds mars.ko against another tree.

SHELL := /bin/bash
TOP := $(CURDIR)
BUILD := $(TOP)/build
RUST_TARGET := x86_64-unknown-linux-gnu
STATIC_BIN := $(TOP)/target/$(RUST_TARGET)/release
KDIR ?=

.PHONY: all setup kernel module userland initramfs debian-image deb check check-full test-host scenarios demo bench fuzz clean

# The packages too: the systemd scenarios install them on Debian nodes (dpkg -i).
all: initramfs debian-image deb

setup:
	@scripts/setup.sh

# build/kdir names the kernel tree in use; build/bzImage points at its kernel image.
kernel: setup
	@mkdir -p $(BUILD)
	@if [ -n "$(KDIR)" ]; then echo "$(KDIR)"; else scripts/build-kernel.sh; fi > $(BUILD)/kdir.new
	@test -f "$$(cat $(BUILD)/kdir.new)/Makefile" || { echo "no kernel tree at '$$(cat $(BUILD)/kdir.new)'" >&2; exit 1; }
	@mv $(BUILD)/kdir.new $(BUILD)/kdir
	@ln -sfn "$$(cat $(BUILD)/kdir)/arch/x86/boot/bzImage" $(BUILD)/bzImage

# Built in a directory of its own per kernel (scripts/build-module.sh), never in kernel/.
module: kernel
	@scripts/build-module.sh "$$(cat $(BUILD)/kdir)" $(BUILD)/module-6.12 $(BUILD)/mars.ko

# Static binaries: they run unchanged inside the testbed nodes (marsadm, the testbed
# agent, and the test-only hostile peer mars-hostile and bench-tcp-copy).
userland: setup
	RUSTFLAGS="-C target-feature=+crt-static" cargo build --quiet --release --locked \
		--target $(RUST_TARGET) -p marsadm -p mars-testbed

initramfs: module userland
	@scripts/build-initramfs.sh "$$(cat $(BUILD)/kdir)" $(BUILD)/mars.ko $(STATIC_BIN) $(BUILD)/initramfs.cpio

# Debian packages in build/deb: mars-tools and mars-module-<release> (docu/packaging.md).
deb: module userland
	@scripts/build-deb.sh

# Debian nodes (testbed up --image debian, docu/testbed.md "Images"): the same kernel and
# mars.ko as the busybox nodes, the cached root image, and the seed disk with this
# checkout's agent and marsadm.
DEBIAN := $(BUILD)/debian
debian-image: module userland
	@mkdir -p $(DEBIAN)
	@scripts/build-debian-image.sh > $(DEBIAN)/root.path
	@ln -sfn "$$(cat $(DEBIAN)/root.path)" $(DEBIAN)/root.img
	@scripts/build-debian-seed.sh "$$(cat $(BUILD)/kdir)" $(STATIC_BIN) $(DEBIAN)/seed.img

check:
	@scripts/check.sh

# Like check, with every case of the forced-failover matrix (scenario 32), not only
# the covering subset.
check-full:
	@MARS_FULL_MATRIX=1 scripts/check.sh

test-host: setup
	cargo test --workspace --locked

scenarios: all
	@testing/run-scenarios

# demo and bench run on busybox nodes: no Debian image, no packages needed.
demo: initramfs
	@scripts/demo.sh

bench: initramfs
	@scripts/bench.sh

# Coverage-guided fuzzing of the decoders (docu/fuzzing.md); FUZZ_SECONDS per target.
fuzz: setup
	@scripts/fuzz.sh

clean:
	-testing/testbed down 2>/dev/null
	rm -rf $(BUILD) target
