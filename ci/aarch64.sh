#!/usr/bin/env bash
# Builds Mica for AArch64 and runs the language tests under qemu with the
# JIT forced on every method. Runs end to end on a fresh Debian machine of
# this kind (as root): installs Debian's cross tools, cross-builds with
# Debian's rustc (which has the AArch64 standard library), runs the tests.
# Ends with a line `N passed, M failed`.
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
if ! command -v qemu-aarch64 > /dev/null || ! command -v aarch64-linux-gnu-gcc > /dev/null \
  || ! dpkg -s libstd-rust-web-dev:arm64 > /dev/null 2>&1; then
  dpkg --add-architecture arm64
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user \
    rustc-web cargo-web libstd-rust-web-dev:arm64
fi

# Debian's compiler (rustc-web) drives the cross build; the linker is the
# cross gcc.
rustc_bin=$(command -v rustc-web || true)
[ -n "$rustc_bin" ] || rustc_bin=/usr/bin/rustc
export RUSTC="$rustc_bin"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_DIR=target/cross
"$RUSTC" --version
cargo build --release --target $target --bin mica

# The cross C library must also be the one loaded: libstd-rust-web-dev:arm64
# brings Debian's arm64 libc6 too, which the loader would otherwise find
# through the host's cache, and a loader and libc of different builds hang
# in pthread_create.
sysroot=/usr/aarch64-linux-gnu
mica="qemu-aarch64 -L $sysroot -E LD_LIBRARY_PATH=$sysroot/lib $CARGO_TARGET_DIR/$target/release/mica"
$mica --version
python3 ci/lang-tests.py --mica "$mica" --timeout 300 -- --jit=eager
# The live connection's client side under qemu: a program, mica connect
# evaluating, defining and saving in it, --load at the next start.
python3 ci/live-smoke.py --mica "$mica" --timeout 300 -- --jit=eager
