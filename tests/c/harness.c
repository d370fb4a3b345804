#include "harness.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

int t_passed = 0;
int t_failed = 0;

void t_check(int ok, const char *file, int line, const char *expr, const char *what) {
    if (ok) {
        t_passed++;
        return;
    }
    t_failed++;
    fprintf(stderr, "FAIL %s:%d: %s (%s)\n", file, line, what, expr);
}

void t_check_rc(usersync_result got, usersync_result want, const char *file, int line,
                const char *what) {
    if (got == want) {
        t_passed++;
        return;
    }
    t_failed++;
    fprintf(stderr, "FAIL %s:%d: %s: got %s, want %s\n", file, line, what,
            usersync_result_name((uint32_t)got), usersync_result_name((uint32_t)want));
}

usersync_keyring *t_ring(const char *secrets, size_t max_text_len) {
    usersync_keyring *ring = NULL;
    usersync_result rc = usersync_keyring_new(secrets, strlen(secrets), max_text_len, &ring);
    if (rc != USERSYNC_RESULT_OK || ring == NULL) {
        fprintf(stderr, "cannot build keyring: %s\n", usersync_result_message((uint32_t)rc));
        exit(2);
    }
    return ring;
}

const char *t_secret(int slot) {
    static char secrets[8][64];
    size_t n = 0;
    if (slot >= 0 && slot <= 7 && secrets[slot][0] != '\0') {
        return secrets[slot];
    }
    if (slot < 0 || slot > 7 ||
        usersync_secret_generate(secrets[slot], sizeof secrets[slot] - 1, &n) !=
            USERSYNC_RESULT_OK) {
        fprintf(stderr, "cannot generate a secret\n");
        exit(2);
    }
    secrets[slot][n] = '\0';
    return secrets[slot];
}

usersync_result t_seal(const usersync_keyring *ring, const char *aad, size_t aad_len,
                       const char *pt, size_t pt_len, char **out, size_t *out_len) {
    size_t cap = usersync_keyring_sealed_len(pt_len);
    char *buf = malloc(cap ? cap : 1);
    usersync_result rc = usersync_keyring_seal(ring, aad, aad_len, pt, pt_len, buf, cap, out_len);
    if (rc != USERSYNC_RESULT_OK) {
        free(buf);
        buf = NULL;
    }
    *out = buf;
    return rc;
}

usersync_result t_open(const usersync_keyring *ring, const char *aad, size_t aad_len,
                       const char *text, size_t text_len, char **out, size_t *out_len) {
    size_t cap = usersync_keyring_opened_max_len(text_len);
    char *buf = malloc(cap ? cap : 1);
    usersync_result rc = usersync_keyring_open(ring, aad, aad_len, text, text_len, buf, cap, out_len);
    if (rc != USERSYNC_RESULT_OK) {
        free(buf);
        buf = NULL;
    }
    *out = buf;
    return rc;
}

void *t_load_json(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *json = malloc((size_t)size + 1);
    size_t got = fread(json, 1, (size_t)size, f);
    fclose(f);
    json[got] = '\0';
    cJSON *doc = cJSON_Parse(json);
    free(json);
    if (doc == NULL) {
        fprintf(stderr, "cannot parse %s\n", path);
        exit(2);
    }
    return doc;
}

static const char B64U[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *t_b64u_encode(const unsigned char *in, size_t len, size_t *out_len) {
    char *out = malloc(len / 3 * 4 + 5);
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned long v = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8) | in[i + 2];
        out[o++] = B64U[(v >> 18) & 63];
        out[o++] = B64U[(v >> 12) & 63];
        out[o++] = B64U[(v >> 6) & 63];
        out[o++] = B64U[v & 63];
    }
    if (len - i == 1) {
        unsigned long v = (unsigned long)in[i] << 16;
        out[o++] = B64U[(v >> 18) & 63];
        out[o++] = B64U[(v >> 12) & 63];
    } else if (len - i == 2) {
        unsigned long v = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8);
        out[o++] = B64U[(v >> 18) & 63];
        out[o++] = B64U[(v >> 12) & 63];
        out[o++] = B64U[(v >> 6) & 63];
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

unsigned char *t_b64u_decode(const char *in, size_t len, size_t *out_len) {
    unsigned char *out = malloc(len / 4 * 3 + 3);
    unsigned long acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        const char *p = memchr(B64U, in[i], 64);
        if (p == NULL) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned long)(p - B64U);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1UL << bits) - 1;
        }
    }
    *out_len = o;
    return out;
}

int main(int argc, char **argv) {
    const char *vectors = argc > 1 ? argv[1] : "tests/vectors";
    printf("usersync C header tests against library %s\n", usersync_version());
    test_abi();
    test_secret();
    test_envelope();
    test_vectors(vectors);
    test_threads();
    test_context();
    test_identity(vectors);
    test_sync(vectors);
    test_wordpress(vectors);
    printf("%d passed, %d failed\n", t_passed, t_failed);
    return t_failed == 0 ? 0 : 1;
}
