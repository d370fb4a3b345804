/* The C header test suite's small harness: checks, counters and helpers shared by the tests. */
#ifndef USERSYNC_TEST_HARNESS_H
#define USERSYNC_TEST_HARNESS_H

#include <stddef.h>
#include <stdio.h>
#include "usersync.h"

extern int t_passed;
extern int t_failed;

void t_check(int ok, const char *file, int line, const char *expr, const char *what);
void t_check_rc(usersync_result got, usersync_result want, const char *file, int line,
                const char *what);

/* CHECK(condition, "what is being checked") */
#define CHECK(cond, what) t_check((cond) ? 1 : 0, __FILE__, __LINE__, #cond, (what))
/* CHECK_RC(call, USERSYNC_RESULT_X, "what") */
#define CHECK_RC(got, want, what) t_check_rc((got), (want), __FILE__, __LINE__, (what))

/* A keyring from a comma-separated secret list; aborts the run if it cannot be made. */
usersync_keyring *t_ring(const char *secrets, size_t max_text_len);
/* A secret generated on first use of `slot` (0..7), the same text on every later call. */
const char *t_secret(int slot);
/* Seals into a malloc'd buffer (*out, *out_len); returns the result code. */
usersync_result t_seal(const usersync_keyring *ring, const char *aad, size_t aad_len,
                       const char *pt, size_t pt_len, char **out, size_t *out_len);
/* Opens into a malloc'd buffer (*out, *out_len); *out is NULL unless the result is OK. */
usersync_result t_open(const usersync_keyring *ring, const char *aad, size_t aad_len,
                       const char *text, size_t text_len, char **out, size_t *out_len);

/* Reads and parses a JSON file (cJSON *, as void * to keep cJSON out of this header); exits on error. */
void *t_load_json(const char *dir, const char *name);

/* Test-only base64url (no padding) so tests can edit an envelope's binary regions. */
char *t_b64u_encode(const unsigned char *in, size_t len, size_t *out_len);
unsigned char *t_b64u_decode(const char *in, size_t len, size_t *out_len);

/* The test groups, one per file. */
void test_abi(void);
void test_secret(void);
void test_envelope(void);
void test_vectors(const char *dir);
void test_threads(void);
void test_context(void);
void test_identity(const char *dir);
void test_sync(const char *dir);
void test_wordpress(const char *dir);

#endif
