/* The shared JSON vectors (tests/vectors/), made by an independent Python implementation. */
#include "harness.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const char *str(const cJSON *obj, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static char *unhex(const char *hex, size_t *len) {
    size_t n = strlen(hex) / 2;
    char *out = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    *len = n;
    return out;
}

/* A keyring from a case: "secret" or the "secrets" list, and an optional max_text_len. */
static usersync_keyring *ring_for(const cJSON *c) {
    char list[1024] = "";
    const char *one = str(c, "secret");
    if (one) {
        snprintf(list, sizeof list, "%s", one);
    } else {
        const cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(c, "secrets")) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof list - used, "%s%s", used ? "," : "", s->valuestring);
        }
    }
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(c, "max_text_len");
    return t_ring(list, cJSON_IsNumber(max) ? (size_t)max->valuedouble : 0);
}

/* Opens a case's envelope; returns the code and compares with plaintext_hex when given. */
static usersync_result open_case(const cJSON *c, int *plaintext_matches) {
    usersync_keyring *ring = ring_for(c);
    size_t aad_len = 0, want_len = 0, n = 0;
    char *aad = unhex(str(c, "aad_hex"), &aad_len);
    const char *env = str(c, "envelope");
    char *out = NULL;
    usersync_result rc = t_open(ring, aad, aad_len, env, strlen(env), &out, &n);
    const char *want_hex = str(c, "plaintext_hex");
    if (want_hex && plaintext_matches) {
        char *want = unhex(want_hex, &want_len);
        *plaintext_matches = out && n == want_len && memcmp(out, want, n) == 0;
        free(want);
    }
    free(out);
    free(aad);
    usersync_keyring_free(ring);
    return rc;
}

/* The same through the binary ABI: the case's text envelope decoded, opened with
 * usersync_keyring_open_binary(). Returns -1 for a text that is not base64url at all. */
static int open_case_binary(const cJSON *c, int *plaintext_matches) {
    const char *env = str(c, "envelope");
    size_t bin_len = 0, aad_len = 0, want_len = 0, n = 0;
    unsigned char *bin = t_b64u_decode(env, strlen(env), &bin_len);
    if (!bin) {
        return -1;
    }
    usersync_keyring *ring = ring_for(c);
    char *aad = unhex(str(c, "aad_hex"), &aad_len);
    size_t cap = usersync_keyring_opened_binary_max_len(bin_len);
    char *out = malloc(cap ? cap : 1);
    usersync_result rc = usersync_keyring_open_binary(ring, aad, aad_len, (const char *)bin, bin_len, out, cap, &n);
    const char *want_hex = str(c, "plaintext_hex");
    if (want_hex && plaintext_matches) {
        char *want = unhex(want_hex, &want_len);
        *plaintext_matches = rc == USERSYNC_RESULT_OK && n == want_len && memcmp(out, want, n) == 0;
        free(want);
    }
    free(out);
    free(aad);
    free(bin);
    usersync_keyring_free(ring);
    return (int)rc;
}

void test_vectors(const char *dir) {
    const cJSON *c;
    int cases = 0, good = 0;

    cJSON *gen = t_load_json(dir, "envelope-generate.json");
    int binary_good = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(gen, "cases")) {
        int match = 0, binary_match = 0;
        cases++;
        good += open_case(c, &match) == USERSYNC_RESULT_OK && match;
        binary_good += open_case_binary(c, &binary_match) == USERSYNC_RESULT_OK && binary_match;
    }
    CHECK(cases >= 10 && good == cases, "every generate vector opens to its plaintext");
    CHECK(binary_good == cases, "every generate vector opens through the binary ABI too");
    cJSON_Delete(gen);

    cases = good = 0;
    cJSON *ver = t_load_json(dir, "envelope-verify.json");
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(ver, "cases")) {
        int match = 0;
        cases++;
        good += open_case(c, &match) == USERSYNC_RESULT_OK && match;
    }
    CHECK(cases >= 4 && good == cases, "every verify vector opens to its plaintext");
    cJSON_Delete(ver);

    cases = good = 0;
    cJSON *inv = t_load_json(dir, "envelope-invalid.json");
    int binary_cases = 0;
    binary_good = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(inv, "cases")) {
        usersync_result rc = open_case(c, NULL);
        const char *want = str(c, "error");
        int ok = want && strcmp(usersync_result_name((uint32_t)rc), want) == 0;
        /* The binary form of every envelope that is one: the same refusal (the text form's own
         * errors cannot occur there). */
        int brc = want && strcmp(want, "malformed_encoding") != 0 ? open_case_binary(c, NULL) : -1;
        if (brc >= 0) {
            binary_cases++;
            binary_good += want && strcmp(usersync_result_name((uint32_t)brc), want) == 0;
        }
        if (!ok) {
            fprintf(stderr, "invalid vector \"%s\": got %s, want %s\n", str(c, "desc"),
                    usersync_result_name((uint32_t)rc), want);
        }
        cases++;
        good += ok;
    }
    CHECK(cases >= 40 && good == cases, "every invalid vector refused with its reason");
    CHECK(binary_cases >= 40 && binary_good == binary_cases, "every binary invalid vector refused with its reason");
    cJSON_Delete(inv);

    cases = good = 0;
    cJSON *sec = t_load_json(dir, "secret.json");
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(sec, "cases")) {
        const char *text = str(c, "secret");
        const char *want = str(c, "error");
        usersync_result rc = usersync_secret_check(text, strlen(text));
        cases++;
        good += strcmp(usersync_result_name((uint32_t)rc), want ? want : "ok") == 0;
    }
    CHECK(cases >= 10 && good == cases, "every secret vector gives its result");
    cJSON_Delete(sec);

    /* Message vectors: the C ABI reads the real clock, so only the refusals the protocol decides
     * before its time check are clock-independent; the Rust suite runs them all at "now". */
    cJSON *msgs = t_load_json(dir, "messages-invalid.json");
    char *config = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(msgs, "receiver_config"));
    usersync_context *ctx = NULL;
    CHECK_RC(usersync_context_new(config, strlen(config), &ctx, NULL, 0, NULL), USERSYNC_RESULT_OK,
             "the vectors' receiver configuration loads");
    cases = good = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(msgs, "cases")) {
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "before_time_check"))) {
            continue;
        }
        const char *env = str(c, "envelope");
        const char *ip = str(c, "remote_ip");
        char *out = NULL;
        size_t len = 0;
        usersync_result rc = strcmp(str(c, "typ"), "ticket") == 0
            ? usersync_context_open_ticket(ctx, env, strlen(env), &out, &len)
            : usersync_context_open_action(ctx, env, strlen(env), ip, ip ? strlen(ip) : 0, &out, &len);
        int ok = strcmp(usersync_result_name((uint32_t)rc), str(c, "error")) == 0;
        if (!ok) {
            fprintf(stderr, "message vector \"%s\": got %s, want %s\n", str(c, "desc"),
                    usersync_result_name((uint32_t)rc), str(c, "error"));
        }
        cases++;
        good += ok;
    }
    CHECK(cases >= 20 && good == cases, "every clock-independent invalid message vector refused");
    usersync_context_free(ctx);
    free(config);
    cJSON_Delete(msgs);
}
