/* Sealing and opening: sizes, tampering in every region, truncation, keys, text form. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#define AAD "usersync/v1|action|a.example|b.example"
#define AAD_LEN (sizeof AAD - 1)

enum { KID_AT = 1, IV_AT = 9, CT_AT = 25, TAG_LEN = 32 };

static void round_trips(void) {
    usersync_keyring *ring = t_ring(t_secret(0), 0);
    usersync_keyring *big = t_ring(t_secret(0), 2u << 20);
    const size_t sizes[] = {0, 1, 15, 16, 17, 1u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t len = sizes[i];
        char *pt = malloc(len ? len : 1);
        for (size_t j = 0; j < len; j++) {
            pt[j] = (char)(j * 31 + 7);
        }
        usersync_keyring *r = len > 1000 ? big : ring;
        char *text = NULL, *back = NULL;
        size_t text_len = 0, back_len = 0;
        CHECK_RC(t_seal(r, AAD, AAD_LEN, pt, len, &text, &text_len), USERSYNC_RESULT_OK, "seal");
        CHECK(text_len == usersync_keyring_sealed_len(len), "sealed length as announced");
        CHECK_RC(t_open(r, AAD, AAD_LEN, text, text_len, &back, &back_len), USERSYNC_RESULT_OK,
                 "open");
        CHECK(back_len == len && (len == 0 || memcmp(back, pt, len) == 0), "same bytes back");
        if (len > 1000) {
            char *refused = NULL;
            size_t n = 0;
            CHECK_RC(t_seal(ring, AAD, AAD_LEN, pt, len, &refused, &n), USERSYNC_RESULT_TOO_LARGE,
                     "1 MiB plaintext exceeds the default 1 MiB text limit when sealing");
            CHECK_RC(t_open(ring, AAD, AAD_LEN, text, text_len, &refused, &n),
                     USERSYNC_RESULT_TOO_LARGE, "and when opening");
        }
        free(pt);
        free(text);
        free(back);
    }
    usersync_keyring_free(ring);
    usersync_keyring_free(big);
}

/* Opens `env` (binary) after re-encoding; returns the code. */
static usersync_result open_binary(usersync_keyring *ring, const unsigned char *env, size_t len,
                                   const char *aad, size_t aad_len) {
    size_t text_len = 0, n = 0;
    char *text = t_b64u_encode(env, len, &text_len);
    char *out = NULL;
    usersync_result rc = t_open(ring, aad, aad_len, text, text_len, &out, &n);
    free(text);
    free(out);
    return rc;
}

static void tampering(void) {
    usersync_keyring *ring = t_ring(t_secret(0), 0);
    const char pt[] = "{\"act\":\"password\",\"data\":{\"login\":\"alice\"}}";
    char *text = NULL;
    size_t text_len = 0, len = 0;
    t_seal(ring, AAD, AAD_LEN, pt, sizeof pt - 1, &text, &text_len);
    unsigned char *env = t_b64u_decode(text, text_len, &len);
    CHECK(env != NULL && len == 1 + 8 + 16 + 48 + 32, "decoded envelope has the documented layout");
    CHECK(env[0] == 1, "version byte is 1");
    CHECK_RC(open_binary(ring, env, len, AAD, AAD_LEN), USERSYNC_RESULT_OK, "untouched opens");

    struct { const char *name; size_t from, to; } regions[] = {
        {"key id", KID_AT, IV_AT}, {"IV", IV_AT, CT_AT},
        {"ciphertext", CT_AT, len - TAG_LEN}, {"tag", len - TAG_LEN, len},
    };
    int refused = 0, tried = 0;
    for (size_t r = 0; r < 4; r++) {
        for (size_t i = regions[r].from; i < regions[r].to; i++) {
            for (int bit = 0; bit < 8; bit++) {
                env[i] ^= (unsigned char)(1u << bit);
                refused += open_binary(ring, env, len, AAD, AAD_LEN) ==
                           USERSYNC_RESULT_AUTHENTICATION_FAILED;
                tried++;
                env[i] ^= (unsigned char)(1u << bit);
            }
        }
    }
    CHECK(tried == (int)(len - 1) * 8 && refused == tried,
          "every bit flip in key id, IV, ciphertext and tag: AUTHENTICATION_FAILED");
    for (int bit = 0; bit < 8; bit++) {
        env[0] ^= (unsigned char)(1u << bit);
        CHECK_RC(open_binary(ring, env, len, AAD, AAD_LEN), USERSYNC_RESULT_UNSUPPORTED_VERSION,
                 "a flipped version bit");
        env[0] ^= (unsigned char)(1u << bit);
    }

    char aad[] = AAD;
    refused = 0;
    for (size_t i = 0; i < AAD_LEN; i++) {
        for (int bit = 0; bit < 8; bit++) {
            aad[i] ^= (char)(1u << bit);
            refused += open_binary(ring, env, len, aad, AAD_LEN) ==
                       USERSYNC_RESULT_AUTHENTICATION_FAILED;
            aad[i] ^= (char)(1u << bit);
        }
    }
    CHECK(refused == (int)AAD_LEN * 8, "every bit flip in the associated data is refused");
    CHECK_RC(open_binary(ring, env, len, AAD, AAD_LEN - 1), USERSYNC_RESULT_AUTHENTICATION_FAILED,
             "associated data one byte shorter");
    CHECK_RC(open_binary(ring, env, len, NULL, 0), USERSYNC_RESULT_AUTHENTICATION_FAILED,
             "no associated data");

    /* Truncation at every length, binary and text: never opens, structure errors first. */
    int ok_truncations = 0;
    for (size_t cut = 0; cut < len; cut++) {
        usersync_result rc = open_binary(ring, env, cut, AAD, AAD_LEN);
        int layout_ok = cut >= 73 && (cut - 57) % 16 == 0;
        ok_truncations += rc == (layout_ok ? USERSYNC_RESULT_AUTHENTICATION_FAILED
                                           : USERSYNC_RESULT_MALFORMED_ENVELOPE);
    }
    CHECK(ok_truncations == (int)len, "every binary truncation refused with its reason");
    int text_refusals = 0;
    for (size_t cut = 0; cut < text_len; cut++) {
        char *out = NULL;
        size_t n = 0;
        text_refusals += t_open(ring, AAD, AAD_LEN, text, cut, &out, &n) != USERSYNC_RESULT_OK;
        free(out);
    }
    CHECK(text_refusals == (int)text_len, "every text truncation refused");

    free(env);
    free(text);
    usersync_keyring_free(ring);
}

static void keys_and_rotation(void) {
    char list[256];
    usersync_keyring *old_ring = t_ring(t_secret(1), 0);
    snprintf(list, sizeof list, "%s,%s", t_secret(2), t_secret(1));
    usersync_keyring *rotated = t_ring(list, 0);
    usersync_keyring *stranger = t_ring(t_secret(3), 0);

    char *from_old = NULL, *from_new = NULL, *out = NULL;
    size_t old_len = 0, new_len = 0, n = 0;
    t_seal(old_ring, AAD, AAD_LEN, "old", 3, &from_old, &old_len);
    t_seal(rotated, AAD, AAD_LEN, "new", 3, &from_new, &new_len);
    CHECK_RC(t_open(rotated, AAD, AAD_LEN, from_old, old_len, &out, &n), USERSYNC_RESULT_OK,
             "a rotated keyring opens messages sealed with its older secret");
    CHECK(out && n == 3 && memcmp(out, "old", 3) == 0, "old message content");
    free(out);
    CHECK_RC(t_open(old_ring, AAD, AAD_LEN, from_new, new_len, &out, &n),
             USERSYNC_RESULT_AUTHENTICATION_FAILED,
             "the new secret seals: a keyring without it cannot open");
    CHECK_RC(t_open(stranger, AAD, AAD_LEN, from_old, old_len, &out, &n),
             USERSYNC_RESULT_AUTHENTICATION_FAILED, "wrong secret");
    CHECK(out == NULL, "no output on failure");
    free(from_old);
    free(from_new);
    usersync_keyring_free(old_ring);
    usersync_keyring_free(rotated);
    usersync_keyring_free(stranger);
}

static void text_form(void) {
    usersync_keyring *ring = t_ring(t_secret(0), 200);
    char *text = NULL, *out = NULL;
    size_t len = 0, n = 0;
    t_seal(ring, "", 0, "0123456789", 10, &text, &len);
    char buf[300];
    CHECK(len % 4 != 0, "this envelope's text has a partial final quantum");

    memcpy(buf, text, len);
    memcpy(buf + len, "==", 2);
    CHECK_RC(t_open(ring, "", 0, buf, len + (4 - len % 4) % 4, &out, &n),
             USERSYNC_RESULT_MALFORMED_ENCODING, "base64 padding");
    memcpy(buf, text, len);
    buf[len] = '\n';
    CHECK_RC(t_open(ring, "", 0, buf, len + 1, &out, &n), USERSYNC_RESULT_MALFORMED_ENCODING,
             "trailing newline");
    const char *bad_chars = " +/=.*\t\x80";
    for (const char *c = bad_chars; *c; c++) {
        memcpy(buf, text, len);
        buf[len / 2] = *c;
        CHECK_RC(t_open(ring, "", 0, buf, len, &out, &n), USERSYNC_RESULT_MALFORMED_ENCODING,
                 "a character outside the base64url alphabet");
    }
    char big[201];
    memset(big, 'A', sizeof big);
    CHECK_RC(t_open(ring, "", 0, big, sizeof big, &out, &n), USERSYNC_RESULT_TOO_LARGE,
             "text longer than the keyring's max_text_len");
    char pt[150] = {0};
    CHECK_RC(t_seal(ring, "", 0, pt, sizeof pt, &out, &n), USERSYNC_RESULT_TOO_LARGE,
             "sealing past max_text_len");
    free(text);
    usersync_keyring_free(ring);
}

/* The binary envelope: what a host that carries bytes uses; its text form is the same envelope. */
static void binary_form(void) {
    usersync_keyring *ring = t_ring(t_secret(2), 0);
    const char *aad = "usersync/v1|action|a.test|b.test";
    const char pt[] = "binary envelope round trip";
    size_t cap = usersync_keyring_sealed_binary_len(sizeof pt - 1), n = 0, m = 0;
    CHECK(cap == 57 + 16 * ((sizeof pt - 1) / 16 + 1), "binary length is 57 + 16(floor(n/16)+1)");
    char *bin = malloc(cap);
    CHECK_RC(usersync_keyring_seal_binary(ring, aad, strlen(aad), pt, sizeof pt - 1, bin, cap, &n), USERSYNC_RESULT_OK,
             "seal binary");
    CHECK(n == cap && bin[0] == 1, "binary envelope: version byte first, exact length");
    char out[64];
    CHECK_RC(usersync_keyring_open_binary(ring, aad, strlen(aad), bin, n, out, sizeof out, &m), USERSYNC_RESULT_OK,
             "open binary");
    CHECK(m == sizeof pt - 1 && memcmp(out, pt, m) == 0, "binary round trip");
    size_t tl = 0;
    char *text = t_b64u_encode((const unsigned char *)bin, n, &tl);
    char *back = NULL;
    size_t bl = 0;
    CHECK_RC(t_open(ring, aad, strlen(aad), text, tl, &back, &bl), USERSYNC_RESULT_OK, "its text form opens as text");
    CHECK(bl == sizeof pt - 1 && memcmp(back, pt, bl) == 0, "the same plaintext");
    free(back);
    free(text);
    size_t untouched = 12345;
    CHECK_RC(usersync_keyring_seal_binary(ring, aad, strlen(aad), pt, sizeof pt - 1, bin, cap - 1, &untouched),
             USERSYNC_RESULT_BUFFER_TOO_SMALL, "binary seal: buffer one byte short");
    CHECK(untouched == 12345, "nothing written on failure");
    bin[n - 1] ^= 1;
    CHECK_RC(usersync_keyring_open_binary(ring, aad, strlen(aad), bin, n, out, sizeof out, &untouched),
             USERSYNC_RESULT_AUTHENTICATION_FAILED, "a flipped tag bit");
    CHECK(untouched == 12345, "nothing written on failure");
    usersync_keyring *small = t_ring(t_secret(2), 4096);
    static char big[4096];
    CHECK_RC(usersync_keyring_seal_binary(small, aad, strlen(aad), big, sizeof big, bin, cap, &untouched),
             USERSYNC_RESULT_TOO_LARGE, "the keyring's maximum applies to the binary form too");
    usersync_keyring_free(small);
    free(bin);
    usersync_keyring_free(ring);
}

void test_envelope(void) {
    binary_form();
    round_trips();
    tampering();
    keys_and_rotation();
    text_form();
}
