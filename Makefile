# usersync — build, demo, tests and benchmarks. `make help` lists the targets.

CARGO   ?= cargo
LIBDIR  := target/release
CFLAGS_STRICT := -std=c99 -Wall -Wextra -Wpedantic -Werror -Iinclude
C_TESTS := $(wildcard tests/c/*.c)
C_LINK  := -L$(LIBDIR) -lusersync -lcjson -lpthread -Wl,-rpath,$(abspath $(LIBDIR))

FUZZ_SECONDS ?= 30

.PHONY: help deps build demo test header check-header test-rust test-c test-c-sanitize test-c-valgrind \
        check-php-ffi test-php check-vectors test-wordpress test-e2e demo-cli plugin-zip lint bench bench-smoke bench-wordpress bench-php bench-sync bench-lag bench-lag-timeline bench-sso bench-bulk test-sso \
        fuzz-smoke clean soak soak-smoke

help:
	@echo "make demo   - two real WordPress sites linked by usersync: a sign-up syncs (the main job)"
	@echo "make demo-django - a WordPress site and a Django site linked by usersync: sign-up, login, password"
	@echo "make demo-cli - the command-line tool acts out two sites exchanging a sealed message"
	@echo "make test   - every test: header check, lint, Rust, C (plain, ASan+UBSan, valgrind),"
	@echo "              PHP FFI::cdef load, vector regeneration, benchmark and fuzz smoke runs"
	@echo "make bench  - benchmarks: envelope vs OpenSSL, messages (docs/benchmarks.md)"
	@echo "make bench-lag - delivery lag on real sites against one no-op POST to a peer's inbox, 1/2/20 peers"
	@echo "make bench-lag-timeline - where one delivery's time goes, query by query, on sender and receiver"
	@echo "make soak   - three sites in a full mesh take 10,000 user changes while peers are stopped and"
	@echo "              frozen at random: nothing lost, nothing applied twice, every site identical"

build:
	$(CARGO) build --release

demo: deps build
	python3 tests/e2e/demo.py

demo-cli: build
	$(LIBDIR)/usersync demo

# The installable plugin for linux x86_64, with the PHP binding and the library bundled.
plugin-zip: build
	bash scripts/package-plugin.sh

deps:
	bash scripts/install-deps.sh

test: deps
	$(MAKE) --no-print-directory check-header lint test-rust test-c test-c-sanitize test-c-valgrind check-php-ffi \
	    test-php test-plugin test-python test-django check-vectors test-wordpress test-e2e test-e2e-django soak-smoke test-sso plugin-zip bench-smoke fuzz-smoke
	@echo "make test: all checks passed"

# The C header from src/ffi/ with cbindgen 0.29.2 (installed by make deps); commit the result.
header:
	cbindgen --quiet --config cbindgen.toml --output include/usersync.h .

check-header:
	bash scripts/check-header.sh
	bash tests/header/hand_edit_is_caught.sh

# Rust formatting and clippy; PHP lint (phpcs.xml) of the binding and the plugin, with the proof
# that a planted violation fails it.
lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	phpcs -q
	bash tests/lint/planted_violation_is_caught.sh

test-rust:
	$(CARGO) test

build/c-tests: build $(C_TESTS) tests/c/harness.h include/usersync.h
	@mkdir -p build
	$(CC) $(CFLAGS_STRICT) -O1 $(C_TESTS) $(C_LINK) -o $@

build/c-tests-sanitize: build $(C_TESTS) tests/c/harness.h include/usersync.h
	@mkdir -p build
	$(CC) $(CFLAGS_STRICT) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	    -fno-omit-frame-pointer $(C_TESTS) $(C_LINK) -o $@

test-c: build/c-tests
	./build/c-tests tests/vectors

test-c-sanitize: build/c-tests-sanitize
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    ./build/c-tests-sanitize tests/vectors

test-c-valgrind: build/c-tests
	valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
	    ./build/c-tests tests/vectors

check-php-ffi: build
	php tests/php/ffi_cdef_check.php $(abspath $(LIBDIR))/libusersync.so

test-php: build
	phpunit -c php-bindings/phpunit.xml

# The plugin's WP-CLI command classes and link-setup helpers, without WordPress (a WP_CLI stand-in);
# then the plugin's classes inside a real WordPress 6.8 and MariaDB (tests/wordpress-phpunit).
.PHONY: test-plugin
test-plugin: build
	phpunit -c tests/php/plugin/phpunit.xml
	bash tests/wordpress-phpunit/run.sh

# The Python binding (cffi): a venv under build/, the wheel with the library bundled, pytest.
.PHONY: test-python
test-python:
	bash python-bindings/run-tests.sh

# The Django app (python-bindings/src/usersync/django): Django's own test runner against a
# private PostgreSQL (scripts/postgres.sh), in the venv scripts/django/venv.sh makes.
.PHONY: test-django
test-django: build
	bash scripts/django/run-units.sh

check-vectors:
	@rm -rf build/vectors && mkdir -p build/vectors
	python3 tests/vectors/generate.py --out build/vectors
	for f in build/vectors/*.json; do diff -q "$$f" "tests/vectors/$${f##*/}" || exit 1; done
	@echo "the Python generator's vectors in tests/vectors/ are exactly what it makes now"

# Three real WordPress sites syncing users through the plugin (nginx, php-fpm, MariaDB).
test-e2e: build
	python3 tests/e2e/test_sync.py

# WordPress A (nginx + php-fpm + MariaDB) <-> Django D (gunicorn + nginx + PostgreSQL): users and
# passwords both ways, and what A's link secret cannot do on D.
.PHONY: test-e2e-django bench-django demo-django
test-e2e-django: build
	python3 tests/e2e/test_django.py

bench-django: build
	python3 tests/e2e/test_django.py --measure

# The Python binding against pure Python (cryptography + hmac), one run (docs/benchmarks.md).
.PHONY: bench-python
bench-python: test-python
	build/python-venv/bin/python python-bindings/bench/envelope.py

# WordPress and Django together (make demo stays the two WordPress sites).
demo-django: deps build
	python3 scripts/django/demo.py

# Delivery under load and chaos: three real sites in a full mesh on one MariaDB, user changes
# from concurrent clients while peers are stopped and frozen; then every database is compared.
soak: build
	python3 tests/e2e/soak.py

soak-smoke: build
	python3 tests/e2e/soak.py --smoke

# Single sign-on and logout everywhere in Debian's Chromium, over HTTPS with a test CA.
test-sso: build
	python3 tests/e2e/test_sso.py

# Cookies and nonces against real WordPress 6.8 and 6.1 (MariaDB + Debian's WordPress).
test-wordpress: build
	bash tests/wordpress/run-cookies.sh

bench:
	$(CARGO) bench --bench envelope
	$(CARGO) bench --bench messages
	bash benches/wordpress-cookies.sh
	php php-bindings/bench/envelope.php
	bash benches/php-fpm-load.sh

bench-sync: build
	python3 tests/e2e/test_sync.py --measure

# Delivery lag: end of the user's request until the change is applied on every peer, against one
# no-op POST to a peer's inbox, interleaved; 1, 2 and 20 real peers (docs/benchmarks.md).
bench-lag: build
	python3 tests/e2e/lag.py

# The same sites, every query and step stamped: the median timeline of a delivery (docs/benchmarks.md).
bench-lag-timeline: build
	python3 tests/e2e/lag_timeline.py --burn

bench-sso: build
	python3 tests/e2e/test_sso.py --measure

# The initial sync in bulk: 100,000 existing users from one real site to another (docs/benchmarks.md).
bench-bulk: build
	python3 benches/bulk-sync.py

bench-php: build
	php php-bindings/bench/envelope.php
	bash benches/php-fpm-load.sh

bench-wordpress: build
	bash benches/wordpress-cookies.sh

bench-smoke:
	$(CARGO) bench --bench envelope -- --quick
	$(CARGO) bench --bench messages -- --quick
	bash benches/wordpress-cookies.sh --quick
	php php-bindings/bench/envelope.php --quick
	bash benches/php-fpm-load.sh --quick

# Each fuzz target for FUZZ_SECONDS (stable Rust: no sanitizer; the code under test is safe
# Rust), open_claims and check_target from the committed seeds in a scratch corpus.
fuzz-smoke:
	@rm -rf build/fuzz-corpus && mkdir -p build/fuzz-corpus/open_message build/fuzz-corpus/open_claims build/fuzz-corpus/check_target
	cp fuzz/corpus/open_claims/*.json build/fuzz-corpus/open_claims/
	cd fuzz && cargo fuzz run --sanitizer none open_message ../build/fuzz-corpus/open_message \
	    -- -max_total_time=$(FUZZ_SECONDS) -max_len=4096
	cd fuzz && cargo fuzz run --sanitizer none open_claims ../build/fuzz-corpus/open_claims \
	    -- -max_total_time=$(FUZZ_SECONDS) -max_len=4096
	cp fuzz/corpus/check_target/*.json build/fuzz-corpus/check_target/
	cd fuzz && cargo fuzz run --sanitizer none check_target ../build/fuzz-corpus/check_target \
	    -- -max_total_time=$(FUZZ_SECONDS) -max_len=4096

clean:
	$(CARGO) clean
	rm -rf build
