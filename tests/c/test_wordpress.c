/* WordPress cookies and nonces through the C ABI, against cookies recorded from real
 * WordPress 6.8 and 6.1 (tests/vectors/wordpress-*.json). */
#include "harness.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *get(const cJSON *o, const char *k) {
    return cJSON_GetObjectItemCaseSensitive(o, k)->valuestring;
}

static uint32_t scheme_of(const char *name) {
    if (strcmp(name, "secure_auth") == 0) return USERSYNC_WP_SCHEME_SECURE_AUTH;
    if (strcmp(name, "logged_in") == 0) return USERSYNC_WP_SCHEME_LOGGED_IN;
    return USERSYNC_WP_SCHEME_AUTH;
}

static usersync_result result_of(const char *name) {
    if (strcmp(name, "ok") == 0) return USERSYNC_RESULT_OK;
    if (strcmp(name, "wp_cookie_expired") == 0) return USERSYNC_RESULT_WP_COOKIE_EXPIRED;
    if (strcmp(name, "wp_cookie_invalid") == 0) return USERSYNC_RESULT_WP_COOKIE_INVALID;
    return USERSYNC_RESULT_WP_COOKIE_MALFORMED;
}

/* Cookies core made over non-canonical expiration fields (0…, +…, spaces, 1e10, hex, words,
 * huge and negative numbers) or rewrote after making them, with core's verdicts on GET and on
 * POST (grace). The "timeless" ones keep their verdict until 2100, so the real clock decides. */
static void check_expiration_fields(const char *dir, const char *file) {
    cJSON *v = t_load_json(dir, file);
    cJSON *config = cJSON_CreateObject();
    cJSON_AddItemReferenceToObject(config, "salts", cJSON_GetObjectItemCaseSensitive(v, "salts"));
    cJSON_AddStringToObject(config, "siteurl", get(v, "siteurl"));
    cJSON_AddStringToObject(config, "wp_version", get(v, "wp_version"));
    char *config_text = cJSON_PrintUnformatted(config);
    usersync_wp *wp = NULL;
    CHECK_RC(usersync_wp_new(config_text, strlen(config_text), &wp, NULL, 0, NULL), USERSYNC_RESULT_OK, file);
    const cJSON *c;
    int cases = 0, get_same = 0, post_same = 0, parsed_same = 0, accepted = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(v, "expiration_fields")) {
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "timeless"))) continue;
        const char *cookie = get(c, "cookie"), *hash = get(c, "pass_hash");
        uint32_t scheme = scheme_of(get(c, "scheme"));
        usersync_result on_get = result_of(get(c, "get")), on_post = result_of(get(c, "post"));
        get_same += usersync_wp_cookie_validate(wp, scheme, cookie, strlen(cookie), hash, strlen(hash), false) == on_get;
        post_same += usersync_wp_cookie_validate(wp, scheme, cookie, strlen(cookie), hash, strlen(hash), true) == on_post;
        accepted += on_get == USERSYNC_RESULT_OK;
        char *parsed = NULL;
        size_t parsed_len = 0;
        if (usersync_wp_cookie_parse(cookie, strlen(cookie), &parsed, &parsed_len) == USERSYNC_RESULT_OK) {
            cJSON *p = cJSON_ParseWithLength(parsed, parsed_len);
            parsed_same += cJSON_GetObjectItemCaseSensitive(p, "expiration")->valuedouble ==
                           cJSON_GetObjectItemCaseSensitive(c, "php_int")->valuedouble;
            cJSON_Delete(p);
            usersync_bytes_free(parsed, parsed_len);
        }
        cases++;
    }
    CHECK(cases >= 40 && accepted >= 10, "recorded expiration fields, some of them accepted by core");
    CHECK(get_same == cases, "non-canonical expiration fields: core's verdict on GET");
    CHECK(post_same == cases, "non-canonical expiration fields: core's verdict on POST");
    CHECK(parsed_same == cases, "parse reports the expiration as PHP's (int)");
    usersync_wp_free(wp);
    free(config_text);
    cJSON_Delete(config);
    cJSON_Delete(v);
}

/* Where WordPress keeps each profile field, and how a meta key travels. */
static void meta_kinds(void) {
    static const struct { const char *key; uint32_t kind; } keys[] = {
        {"first_name", USERSYNC_WP_META_KIND_PROFILE_FIELD}, {"locale", USERSYNC_WP_META_KIND_PROFILE_FIELD},
        {"billing_city", USERSYNC_WP_META_KIND_META},         {"user_url", USERSYNC_WP_META_KIND_META},
        {"wp_capabilities", USERSYNC_WP_META_KIND_PROTECTED}, {"session_tokens", USERSYNC_WP_META_KIND_PROTECTED},
    };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        uint32_t kind = 99;
        CHECK_RC(usersync_wp_meta_classify(keys[i].key, strlen(keys[i].key), &kind), USERSYNC_RESULT_OK, keys[i].key);
        CHECK(kind == keys[i].kind, keys[i].key);
    }
    uint32_t kind = 99;
    CHECK_RC(usersync_wp_meta_classify("x", 1, NULL), USERSYNC_RESULT_NULL_ARGUMENT, "NULL kind");
    CHECK_RC(usersync_wp_meta_classify("\xff", 1, &kind), USERSYNC_RESULT_INVALID_ARGUMENT, "a key that is not UTF-8");
    CHECK(kind == 99, "no output on failure");
    char *fields = NULL;
    size_t fields_len = 0;
    CHECK_RC(usersync_wp_profile_fields(&fields, &fields_len), USERSYNC_RESULT_OK, "the profile field map");
    cJSON *map = cJSON_ParseWithLength(fields, fields_len);
    CHECK(cJSON_GetArraySize(map) == 8 &&
              strcmp(cJSON_GetObjectItemCaseSensitive(map, "nicename")->valuestring, "user_nicename") == 0,
          "eight fields, nicename kept as user_nicename");
    cJSON_Delete(map);
    usersync_bytes_free(fields, fields_len);
}

void test_wordpress(const char *dir) {
    meta_kinds();
    check_expiration_fields(dir, "wordpress-6.8.json");
    check_expiration_fields(dir, "wordpress-6.1.json");

    cJSON *v = t_load_json(dir, "wordpress-6.8.json");
    cJSON *config = cJSON_CreateObject();
    cJSON_AddItemReferenceToObject(config, "salts", cJSON_GetObjectItemCaseSensitive(v, "salts"));
    cJSON_AddStringToObject(config, "siteurl", get(v, "siteurl"));
    cJSON_AddStringToObject(config, "wp_version", get(v, "wp_version"));
    char *config_text = cJSON_PrintUnformatted(config);
    usersync_wp *wp = NULL;
    CHECK_RC(usersync_wp_new(config_text, strlen(config_text), &wp, NULL, 0, NULL), USERSYNC_RESULT_OK,
             "a WordPress site from its salts");

    const cJSON *c;
    int cases = 0, same = 0, expired = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(v, "cookies")) {
        const char *login = get(c, "login"), *hash = get(c, "pass_hash"), *token = get(c, "token");
        uint32_t scheme = scheme_of(get(c, "scheme"));
        int64_t exp = (int64_t)cJSON_GetObjectItemCaseSensitive(c, "expiration")->valuedouble;
        char *out = NULL;
        size_t len = 0;
        if (usersync_wp_cookie_generate(wp, scheme, login, strlen(login), hash, strlen(hash), exp, token,
                                        strlen(token), &out, &len) == USERSYNC_RESULT_OK) {
            same += len == strlen(get(c, "cookie")) && memcmp(out, get(c, "cookie"), len) == 0;
            usersync_bytes_free(out, len);
        }
        /* Valid until their recorded expiration, expired after (the real clock decides). */
        const char *cookie = get(c, "cookie");
        usersync_result want = (int64_t)time(NULL) <= exp ? USERSYNC_RESULT_OK : USERSYNC_RESULT_WP_COOKIE_EXPIRED;
        expired += usersync_wp_cookie_validate(wp, scheme, cookie, strlen(cookie), hash, strlen(hash),
                                               false) == want;
        cases++;
    }
    CHECK(cases >= 12 && same == cases, "cookies byte-identical to WordPress 6.8's");
    CHECK(expired == cases, "WordPress's cookies validate until their expiration, then expire");

    /* A fresh cookie: valid; under another scheme or password, invalid. */
    char token[64];
    size_t token_len = 0;
    CHECK_RC(usersync_wp_session_token_new(token, sizeof token, &token_len), USERSYNC_RESULT_OK, "token");
    CHECK(token_len == usersync_wp_session_token_len(), "43-character token");
    const char *hash = "$wp$2y$10$8Ql1D5wHk9Xz7Hj5nO6wQeqQ3mM1kXb9Y7aV2aQ0n5Zq8rT3yU1xW";
    char *cookie = NULL;
    size_t cookie_len = 0;
    CHECK_RC(usersync_wp_cookie_generate(wp, USERSYNC_WP_SCHEME_LOGGED_IN, "alice", 5, hash, strlen(hash),
                                         (int64_t)time(NULL) + 600, token, token_len, &cookie, &cookie_len),
             USERSYNC_RESULT_OK, "generate");
    CHECK_RC(usersync_wp_cookie_validate(wp, USERSYNC_WP_SCHEME_LOGGED_IN, cookie, cookie_len, hash,
                                         strlen(hash), false),
             USERSYNC_RESULT_OK, "validate a fresh cookie");
    CHECK_RC(usersync_wp_cookie_validate(wp, USERSYNC_WP_SCHEME_AUTH, cookie, cookie_len, hash,
                                         strlen(hash), false),
             USERSYNC_RESULT_WP_COOKIE_INVALID, "another scheme");
    CHECK_RC(usersync_wp_cookie_validate(wp, 7, cookie, cookie_len, hash, strlen(hash), false),
             USERSYNC_RESULT_INVALID_ARGUMENT, "an unknown scheme number");
    char *parsed = NULL;
    size_t parsed_len = 0;
    CHECK_RC(usersync_wp_cookie_parse(cookie, cookie_len, &parsed, &parsed_len), USERSYNC_RESULT_OK, "parse");
    cJSON *p = cJSON_ParseWithLength(parsed, parsed_len);
    CHECK(strcmp(get(p, "login"), "alice") == 0 && strlen(get(p, "verifier")) == 64, "parsed login and verifier");
    char verifier[64];
    size_t vl = 0;
    CHECK_RC(usersync_wp_session_token_verifier(token, token_len, verifier, sizeof verifier, &vl), USERSYNC_RESULT_OK,
             "verifier");
    CHECK(vl == 64 && memcmp(verifier, get(p, "verifier"), 64) == 0, "parse reports the token's verifier");
    cJSON_Delete(p);
    usersync_bytes_free(parsed, parsed_len);
    usersync_bytes_free(cookie, cookie_len);

    const char *malformed[] = {"", "a|b|c", "a|1|2|3|4", "alice|12x|tok|aaaa", "|99|tok|aaaa"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        CHECK_RC(usersync_wp_cookie_validate(wp, 0, malformed[i], strlen(malformed[i]), hash, strlen(hash), false),
                 USERSYNC_RESULT_WP_COOKIE_MALFORMED, malformed[i]);
    }
    static char huge[10000];
    memset(huge, 'a', sizeof huge);
    CHECK_RC(usersync_wp_cookie_validate(wp, 0, huge, sizeof huge, hash, strlen(hash), false),
             USERSYNC_RESULT_WP_COOKIE_MALFORMED, "huge input");

    char nonce[16];
    size_t nl = 0;
    uint32_t age = 0;
    CHECK_RC(usersync_wp_nonce_create(wp, "log-out", 7, 3, token, token_len, nonce, sizeof nonce, &nl),
             USERSYNC_RESULT_OK, "nonce");
    CHECK(nl == 10, "a nonce has 10 characters");
    CHECK_RC(usersync_wp_nonce_verify(wp, nonce, nl, "log-out", 7, 3, token, token_len, &age), USERSYNC_RESULT_OK,
             "verify it");
    CHECK(age == 1, "made in this half of the nonce life");
    CHECK_RC(usersync_wp_nonce_verify(wp, nonce, nl, "log-in", 6, 3, token, token_len, &age),
             USERSYNC_RESULT_WP_NONCE_INVALID, "another action");
    CHECK_RC(usersync_wp_nonce_verify(wp, nonce, nl, "log-out", 7, 3, token, token_len, NULL),
             USERSYNC_RESULT_NULL_ARGUMENT, "NULL age");

    char err[200];
    size_t el = 0;
    usersync_wp *bad = NULL;
    const char *bad_config = "{\"salts\":{},\"siteurl\":\"https://a.test\",\"wp_version\":\"6.8\"}";
    CHECK_RC(usersync_wp_new(bad_config, strlen(bad_config), &bad, err, sizeof err, &el),
             USERSYNC_RESULT_CONFIG_INVALID, "missing salts");
    CHECK(el > 0 && strncmp(err, "salts.AUTH_KEY", 14) == 0, "the detail names the salt");
    usersync_wp_free(NULL);
    usersync_wp_free(wp);
    free(config_text);
    cJSON_Delete(config);
    cJSON_Delete(v);
}
