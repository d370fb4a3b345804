/* ABI conventions: NULL arguments, buffer sizes, "write only on success", free(NULL), codes. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#define SENTINEL ((size_t)0xDEADBEEF)

static int all_bytes(const char *buf, size_t n, unsigned char value) {
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)buf[i] != value) {
            return 0;
        }
    }
    return 1;
}

static void null_arguments(usersync_keyring *ring) {
    char out[512];
    size_t n = SENTINEL;
    usersync_keyring *made = NULL;

    CHECK_RC(usersync_keyring_seal(NULL, "a", 1, "p", 1, out, sizeof out, &n),
             USERSYNC_RESULT_NULL_ARGUMENT, "seal with a NULL keyring");
    CHECK_RC(usersync_keyring_seal(ring, NULL, 1, "p", 1, out, sizeof out, &n),
             USERSYNC_RESULT_NULL_ARGUMENT, "seal with NULL aad of length 1");
    CHECK_RC(usersync_keyring_seal(ring, "a", 1, NULL, 1, out, sizeof out, &n),
             USERSYNC_RESULT_NULL_ARGUMENT, "seal with NULL plaintext of length 1");
    CHECK_RC(usersync_keyring_seal(ring, "a", 1, "p", 1, NULL, sizeof out, &n),
             USERSYNC_RESULT_NULL_ARGUMENT, "seal with a NULL output buffer");
    CHECK_RC(usersync_keyring_seal(ring, "a", 1, "p", 1, out, sizeof out, NULL),
             USERSYNC_RESULT_NULL_ARGUMENT, "seal with a NULL out_len");
    CHECK_RC(usersync_keyring_open(NULL, "a", 1, "AAAA", 4, out, sizeof out, &n),
             USERSYNC_RESULT_NULL_ARGUMENT, "open with a NULL keyring");
    CHECK_RC(usersync_keyring_open(ring, "a", 1, NULL, 4, out, sizeof out, &n),
             USERSYNC_RESULT_NULL_ARGUMENT, "open with a NULL text of length 4");
    CHECK_RC(usersync_keyring_open(ring, "a", 1, "AAAA", 4, out, sizeof out, NULL),
             USERSYNC_RESULT_NULL_ARGUMENT, "open with a NULL out_len");
    CHECK_RC(usersync_keyring_new(NULL, 10, 0, &made), USERSYNC_RESULT_NULL_ARGUMENT,
             "keyring from NULL secrets of length 10");
    CHECK_RC(usersync_keyring_new(t_secret(0), 48, 0, NULL), USERSYNC_RESULT_NULL_ARGUMENT,
             "keyring with a NULL out pointer");
    CHECK(made == NULL, "a failed keyring_new leaves *out alone");
    CHECK_RC(usersync_secret_generate(out, sizeof out, NULL), USERSYNC_RESULT_NULL_ARGUMENT,
             "secret_generate with a NULL out_len");
    CHECK_RC(usersync_secret_generate(NULL, 64, &n), USERSYNC_RESULT_NULL_ARGUMENT,
             "secret_generate with a NULL buffer");
    CHECK_RC(usersync_secret_check(NULL, 48), USERSYNC_RESULT_NULL_ARGUMENT,
             "secret_check with NULL text of length 48");
    CHECK(n == SENTINEL, "out_len is never written by a failing call");

    /* NULL with length 0 is an empty input, not an error. */
    char *text = NULL, *opened = NULL;
    size_t text_len = 0, opened_len = 0;
    CHECK_RC(t_seal(ring, NULL, 0, NULL, 0, &text, &text_len), USERSYNC_RESULT_OK,
             "seal empty plaintext and empty aad given as NULL, 0");
    CHECK_RC(t_open(ring, "", 0, text, text_len, &opened, &opened_len), USERSYNC_RESULT_OK,
             "open it with aad given as \"\", 0");
    CHECK(opened_len == 0, "empty plaintext round trip");
    free(text);
    free(opened);

    usersync_keyring_free(NULL); /* must not crash */
    CHECK(1, "usersync_keyring_free(NULL) returns");
}

static void small_buffers(usersync_keyring *ring) {
    const char pt[] = "a plaintext of some length";
    size_t need = usersync_keyring_sealed_len(sizeof pt);
    char out[512];
    size_t n = SENTINEL;

    memset(out, 0xAA, sizeof out);
    CHECK_RC(usersync_keyring_seal(ring, "", 0, pt, sizeof pt, out, need - 1, &n),
             USERSYNC_RESULT_BUFFER_TOO_SMALL, "seal into a buffer one byte short");
    CHECK(all_bytes(out, sizeof out, 0xAA), "nothing written into a too-small seal buffer");
    CHECK_RC(usersync_keyring_seal(ring, "", 0, pt, sizeof pt, NULL, 0, &n),
             USERSYNC_RESULT_BUFFER_TOO_SMALL, "seal into (NULL, 0)");
    CHECK(n == SENTINEL, "out_len untouched after BUFFER_TOO_SMALL");
    CHECK_RC(usersync_keyring_seal(ring, "", 0, pt, sizeof pt, out, need, &n), USERSYNC_RESULT_OK,
             "seal into a buffer of exactly usersync_keyring_sealed_len()");
    CHECK(n == need, "sealed length equals usersync_keyring_sealed_len()");

    char text[512];
    size_t text_len = n;
    memcpy(text, out, n);
    char plain[512];
    size_t m = SENTINEL;
    memset(plain, 0xAA, sizeof plain);
    CHECK_RC(usersync_keyring_open(ring, "", 0, text, text_len, plain, sizeof pt - 1, &m),
             USERSYNC_RESULT_BUFFER_TOO_SMALL, "open into a buffer one byte short");
    CHECK(all_bytes(plain, sizeof plain, 0xAA), "nothing written into a too-small open buffer");
    CHECK(m == SENTINEL, "out_len untouched after BUFFER_TOO_SMALL");
    CHECK(usersync_keyring_opened_max_len(text_len) >= sizeof pt, "opened_max_len bounds the plaintext");
    CHECK_RC(usersync_keyring_open(ring, "", 0, text, text_len, plain, sizeof pt, &m),
             USERSYNC_RESULT_OK, "open into a buffer of exactly the plaintext length");
    CHECK(m == sizeof pt && memcmp(plain, pt, m) == 0, "plaintext back");

    char secret[64];
    CHECK_RC(usersync_secret_generate(secret, usersync_secret_text_len() - 1, &n),
             USERSYNC_RESULT_BUFFER_TOO_SMALL, "secret into a buffer one byte short");
}

static void overlapping_buffers(usersync_keyring *ring) {
    /* Open in place: the output buffer is the input buffer. */
    char buf[512];
    size_t n = 0;
    const char pt[] = "opened in place";
    CHECK_RC(usersync_keyring_seal(ring, "", 0, pt, sizeof pt, buf, sizeof buf, &n), USERSYNC_RESULT_OK,
             "seal for in-place open");
    size_t m = 0;
    CHECK_RC(usersync_keyring_open(ring, "", 0, buf, n, buf, sizeof buf, &m), USERSYNC_RESULT_OK,
             "open with out == text");
    CHECK(m == sizeof pt && memcmp(buf, pt, m) == 0, "in-place open gives the plaintext");

    /* Seal in place: the plaintext sits at the start of the output buffer. */
    memcpy(buf, pt, sizeof pt);
    CHECK_RC(usersync_keyring_seal(ring, "", 0, buf, sizeof pt, buf, sizeof buf, &n),
             USERSYNC_RESULT_OK, "seal with out == plaintext");
    char *opened = NULL;
    CHECK_RC(t_open(ring, "", 0, buf, n, &opened, &m), USERSYNC_RESULT_OK,
             "open what was sealed in place");
    CHECK(opened && m == sizeof pt && memcmp(opened, pt, m) == 0, "in-place seal round trip");
    free(opened);
}

static void descriptions(void) {
    const char *ok = usersync_result_message(USERSYNC_RESULT_OK);
    CHECK(strcmp(ok, "ok") == 0, "message for OK");
    const usersync_result codes[] = {
        USERSYNC_RESULT_NULL_ARGUMENT,     USERSYNC_RESULT_INVALID_ARGUMENT,
        USERSYNC_RESULT_BUFFER_TOO_SMALL,  USERSYNC_RESULT_PANIC,
        USERSYNC_RESULT_RANDOM_UNAVAILABLE, USERSYNC_RESULT_SECRET_PREFIX,
        USERSYNC_RESULT_SECRET_LENGTH,     USERSYNC_RESULT_SECRET_ENCODING,
        USERSYNC_RESULT_SECRET_ALL_ZERO,   USERSYNC_RESULT_NO_SECRETS,
        USERSYNC_RESULT_TOO_MANY_SECRETS,  USERSYNC_RESULT_DUPLICATE_SECRET,
        USERSYNC_RESULT_TOO_LARGE,         USERSYNC_RESULT_MALFORMED_ENCODING,
        USERSYNC_RESULT_MALFORMED_ENVELOPE, USERSYNC_RESULT_UNSUPPORTED_VERSION,
        USERSYNC_RESULT_AUTHENTICATION_FAILED, USERSYNC_RESULT_CONFIG_INVALID,
        USERSYNC_RESULT_UNKNOWN_PEER,      USERSYNC_RESULT_MALFORMED_JSON,
        USERSYNC_RESULT_CLAIMS_INVALID,    USERSYNC_RESULT_WRONG_SITE,
        USERSYNC_RESULT_EXPIRED,           USERSYNC_RESULT_NOT_YET_VALID,
        USERSYNC_RESULT_LIFETIME_TOO_LONG, USERSYNC_RESULT_IP_NOT_ALLOWED,
        USERSYNC_RESULT_UNKNOWN_ACTION,    USERSYNC_RESULT_ACTION_NOT_ACCEPTED,
        USERSYNC_RESULT_DATA_INVALID,      USERSYNC_RESULT_UNKNOWN_FIELD,
        USERSYNC_RESULT_PRIVILEGED_ROLE,   USERSYNC_RESULT_PROTECTED_META,
        USERSYNC_RESULT_PASS_HASH_FORMAT,  USERSYNC_RESULT_RETURN_URL_REFUSED,
        USERSYNC_RESULT_ACTION_NOT_SENT,   USERSYNC_RESULT_WRONG_BROWSER,
        USERSYNC_RESULT_IDENTITY_CONFLICT, USERSYNC_RESULT_PROTECTED_ACCOUNT,
        USERSYNC_RESULT_UNKNOWN_ACCOUNT,
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *msg = usersync_result_message((uint32_t)codes[i]);
        const char *name = usersync_result_name((uint32_t)codes[i]);
        CHECK(msg && strlen(msg) > 5 && strcmp(msg, "unknown result code") != 0,
              "every code has a message");
        CHECK(name && strcmp(name, "unknown") != 0, "every code has a name");
    }
    CHECK(strcmp(usersync_result_message(99999), "unknown result code") == 0, "unknown code");
    CHECK(strcmp(usersync_result_name(USERSYNC_RESULT_AUTHENTICATION_FAILED),
                 "authentication_failed") == 0,
          "names match the vectors' error names");
    /* The target check's refusals keep the names the vectors (targets.json) use. */
    CHECK(strcmp(usersync_result_name(USERSYNC_RESULT_WRONG_BROWSER), "wrong_browser") == 0 &&
              strcmp(usersync_result_name(USERSYNC_RESULT_IDENTITY_CONFLICT), "identity_conflict") == 0 &&
              strcmp(usersync_result_name(USERSYNC_RESULT_PROTECTED_ACCOUNT), "protected_account") == 0 &&
              strcmp(usersync_result_name(USERSYNC_RESULT_UNKNOWN_ACCOUNT), "unknown_account") == 0,
          "names of the target check's refusals");
    CHECK(USERSYNC_RESULT_WRONG_BROWSER == 416 && USERSYNC_RESULT_IDENTITY_CONFLICT == 600 &&
              USERSYNC_RESULT_PROTECTED_ACCOUNT == 601 && USERSYNC_RESULT_UNKNOWN_ACCOUNT == 602,
          "the new codes keep their numbers");
    const char *v = usersync_version();
    CHECK(v && v[0] >= '0' && v[0] <= '9' && strchr(v, '.') != NULL, "version looks like x.y.z");
    CHECK(usersync_keyring_default_max_text_len() == 1048576, "default max text is 1 MiB");
    CHECK(usersync_keyring_sealed_len((size_t)-1) == 0, "sealed_text_len reports overflow as 0");
}

void test_abi(void) {
    usersync_keyring *ring = t_ring(t_secret(0), 0);
    null_arguments(ring);
    small_buffers(ring);
    overlapping_buffers(ring);
    descriptions();
    usersync_keyring_free(ring);
}
