#!/usr/bin/env bash
# Shows that `make lint`'s phpcs fails on a planted violation in the plugin and in the binding
# (and passes on the real files), in a throw-away copy.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/php-bindings"
cp -r phpcs.xml "$work/"
cp -r php-bindings/src php-bindings/tests php-bindings/bench php-bindings/bin php-bindings/autoload.php php-bindings/preload.php \
    php-bindings/wordpress-plugin "$work/php-bindings/"
(cd "$work" && phpcs -q --no-colors >/dev/null) || { echo "FAIL: the real files do not pass phpcs"; exit 1; }
plant() {  # FILE TEXT SNIFF: appends TEXT to a copy of FILE, expects phpcs to fail with SNIFF
    cp "$work/$1" "$work/$1.orig"
    printf '%s\n' "$2" >> "$work/$1"
    if report=$(cd "$work" && phpcs -q --no-colors --report=source "$1" 2>&1); then
        echo "FAIL: phpcs passed $1 with: $2"
        exit 1
    fi
    grep -q "$3" <<<"$report" || { echo "FAIL: $2 in $1 was not reported as $3:"; echo "$report"; exit 1; }
    mv "$work/$1.orig" "$work/$1"
}
plugin=php-bindings/wordpress-plugin/usersync/includes/class-usersync-log.php
plant "$plugin" 'eval( $_GET["x"] );' Squiz.PHP.Eval
plant "$plugin" '$usersync_short = [ 1 ];' Generic.Arrays.DisallowShortArraySyntax
plant "$plugin" '    $usersync_spaces = 1;' Generic.WhiteSpace.DisallowSpaceIndent
plant "$plugin" '$usersync_quiet = @file_get_contents( "x" );' Generic.PHP.NoSilencedErrors
plant php-bindings/src/Secret.php '$x = unserialize($_COOKIE["x"]);' Generic.PHP.ForbiddenFunctions
plant php-bindings/src/Secret.php 'function f(){return 1;}' Squiz.Functions.MultiLineFunctionDeclaration
echo "ok: phpcs passes the real PHP files and fails on each planted violation"
