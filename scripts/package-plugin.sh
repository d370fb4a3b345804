#!/usr/bin/env bash
# Builds build/usersync-plugin-linux-x86_64.zip: the WordPress plugin with the PHP binding and
# the release library for linux x86_64 bundled — what a site owner uploads in Plugins → Add New.
# The zip holds exactly: the plugin's PHP files, assets/ (its scripts), bin/ (the system-cron
# entry point), binding/{autoload.php,preload.php,src/,bin/},
# binding/lib/linux-x86_64/{libusersync.so,usersync.h} and readme.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f target/release/libusersync.so ] || cargo build --release --quiet
out="$PWD/build/usersync-plugin-linux-x86_64.zip"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
plugin="$stage/usersync"
cp -r php-bindings/wordpress-plugin/usersync "$plugin"
mkdir -p "$plugin/binding/lib/linux-x86_64"
cp -r php-bindings/src php-bindings/bin php-bindings/autoload.php php-bindings/preload.php "$plugin/binding/"
cp target/release/libusersync.so include/usersync.h "$plugin/binding/lib/linux-x86_64/"
strip --strip-unneeded "$plugin/binding/lib/linux-x86_64/libusersync.so" 2>/dev/null || true
mkdir -p build
rm -f "$out"
(cd "$stage" && python3 -c "
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    for root, dirs, files in os.walk('usersync'):
        dirs.sort()
        for f in sorted(files):
            z.write(os.path.join(root, f))
" "$out")
echo "$out ($(du -h "$out" | cut -f1)): $(python3 -c "import zipfile,sys; print(len(zipfile.ZipFile(sys.argv[1]).namelist()))" "$out") files"
