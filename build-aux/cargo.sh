#!/bin/sh
# Build the eyrie binary with cargo for meson (see src/meson.build).
#
# usage: cargo.sh BUILD_ROOT SOURCE_ROOT OUTPUT debug|release [cargo args...]
#
# CARGO_HOME: kept when the environment sets it (Flatpak points it at the vendored
#   sources, the test suite at the user's cache), else <builddir>/cargo-home.
# Target dir: $EYRIE_CARGO_TARGET_DIR, else meson's -Dcargo_target_dir
#   ($EYRIE_MESON_TARGET_DIR), else <builddir>/target.
# APP_ID, PROFILE, VERSION, GETTEXT_PACKAGE, LOCALEDIR come from meson's environment and
# reach src/config.rs through env! under the `meson` feature (which keeps this build a
# separate unit from plain cargo builds in a shared target dir).
set -eu

build_root=$1
source_root=$2
output=$3
profile=$4
shift 4

export CARGO_HOME="${CARGO_HOME:-$build_root/cargo-home}"
target_dir="${EYRIE_CARGO_TARGET_DIR:-${EYRIE_MESON_TARGET_DIR:-}}"
if [ -z "$target_dir" ]; then
    target_dir="$build_root/target"
fi
export CARGO_TARGET_DIR="$target_dir"

if [ "$profile" = release ]; then
    set -- --release "$@"
fi

echo "eyrie: cargo build ($profile, APP_ID=${APP_ID:-?}) into $CARGO_TARGET_DIR"
cargo build --manifest-path "$source_root/Cargo.toml" --bin eyrie --features meson "$@"
cp "$CARGO_TARGET_DIR/$profile/eyrie" "$output"
