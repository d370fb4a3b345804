/* Contexts through the C ABI: build for peers, open with every refusal, replay store, tickets.
 * Messages with arbitrary claims are forged with the link's keyring (as a compromised or buggy
 * peer could), using the real clock: the public API has no time injection. */
#include "harness.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BCRYPT "$wp$2y$10$8Ql1D5wHk9Xz7Hj5nO6wQeqQ3mM1kXb9Y7aV2aQ0n5Zq8rT3yU1xW"
/* Every action and ticket names its account by uid: 16 bytes in canonical base64url (22
 * characters); this one is "uid-of-alice-001". Tickets carry bnd, a SHA-256 in base64url (43
 * characters): this one is the hash of "usersync binding value 0001" (see test_identity.c). */
#define UID "dWlkLW9mLWFsaWNlLTAwMQ"
#define UID_J "\"uid\":\"" UID "\","
#define BND "IfCceS6wHQ7MzIb1OU3NfYHwjCszL26zIQfsYIUNzVU"
#define BND_J "\"bnd\":\"" BND "\","
#define ALL_ACTIONS "[\"create\",\"update\",\"delete\",\"password\",\"meta\",\"logout\",\"login\"]"

/* strdup is POSIX, not C99. */
static char *dup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    memcpy(d, s, n);
    return d;
}

static usersync_context *make_context(const char *json) {
    usersync_context *ctx = NULL;
    char err[256];
    size_t err_len = 0;
    usersync_result rc = usersync_context_new(json, strlen(json), &ctx, err, sizeof err, &err_len);
    if (rc != USERSYNC_RESULT_OK) {
        fprintf(stderr, "context: %.*s\n", (int)err_len, err);
        exit(2);
    }
    return ctx;
}

struct net {
    char ab[64], ac[64];
    usersync_context *a, *b;
    usersync_keyring *ab_ring;
};

static void net_open(struct net *n) {
    static char cfg[4096];
    snprintf(n->ab, sizeof n->ab, "%s", t_secret(6));
    snprintf(n->ac, sizeof n->ac, "%s", t_secret(7));
    snprintf(cfg, sizeof cfg,
             "{\"site_id\":\"a.test\",\"url\":\"https://a.test\",\"peers\":["
             "{\"id\":\"b.test\",\"url\":\"https://b.test\",\"secrets\":[\"%s\"],"
             " \"send\":{\"actions\":" ALL_ACTIONS ",\"roles\":[\"subscriber\",\"administrator\"],"
             "  \"meta\":[\"billing_*\",\"wp_capabilities\"]}},"
             "{\"id\":\"c.test\",\"url\":\"https://c.test\",\"secrets\":[\"%s\"],"
             " \"send\":{\"actions\":[\"create\"]}}]}",
             n->ab, n->ac);
    n->a = make_context(cfg);
    snprintf(cfg, sizeof cfg,
             "{\"site_id\":\"b.test\",\"url\":\"https://b.test\",\"peers\":["
             "{\"id\":\"a.test\",\"url\":\"https://a.test\",\"secrets\":[\"%s\"],"
             " \"send\":{\"actions\":[\"logout\"]},"
             " \"accept\":{\"actions\":[\"create\",\"update\",\"password\",\"meta\",\"logout\",\"login\"],"
             "  \"roles\":[\"*\"],\"meta\":[\"billing_*\"]},"
             " \"ip_allow\":[\"127.0.0.0/8\",\"2001:db8::/32\"]}]}",
             n->ab);
    n->b = make_context(cfg);
    n->ab_ring = t_ring(n->ab, 0);
}

static void net_close(struct net *n) {
    usersync_context_free(n->a);
    usersync_context_free(n->b);
    usersync_keyring_free(n->ab_ring);
}

/* Builds an event on a for b only; returns the envelope text (malloc'd) or NULL. */
static char *build_for_b(struct net *n, const char *event) {
    char *out = NULL;
    size_t len = 0;
    if (usersync_context_build(n->a, event, strlen(event), "b.test", 6, &out, &len) != USERSYNC_RESULT_OK) {
        return NULL;
    }
    cJSON *arr = cJSON_ParseWithLength(out, len);
    usersync_bytes_free(out, len);
    cJSON *first = cJSON_GetArrayItem(arr, 0);
    cJSON *msg = cJSON_GetObjectItemCaseSensitive(first, "message");
    char *text = cJSON_IsString(msg) ? dup(msg->valuestring) : NULL;
    cJSON_Delete(arr);
    return text;
}

/* Opens on b from 127.0.0.1; *json (cJSON) receives the result on success. */
static usersync_result open_on_b(struct net *n, const char *text, const char *ip, cJSON **json) {
    char *out = NULL;
    size_t len = 0;
    usersync_result rc = usersync_context_open_action(n->b, text, strlen(text), ip, ip ? strlen(ip) : 0,
                                              &out, &len);
    if (json) {
        *json = rc == USERSYNC_RESULT_OK ? cJSON_ParseWithLength(out, len) : NULL;
    }
    usersync_bytes_free(out, len);
    return rc;
}

/* Seals claims of type typ on the a→b link: iat = now + iat_offset, lifetime seconds. */
static char *forge_typ(struct net *n, const char *typ, const char *act, const char *data,
                       long iat_offset, long lifetime, const char *extra) {
    static char claims[1 << 16];
    char aad[64];
    long now = (long)time(NULL);
    /* An action carries its event id; a ticket does not. */
    const char *eid = strcmp(typ, "action") == 0 ? "\"eid\":\"ZXZlbnQtaWQtMDAwMDAwMQ\"," : "";
    snprintf(claims, sizeof claims,
             "{\"v\":1,\"typ\":\"%s\",\"iss\":\"a.test\",\"aud\":\"b.test\",\"iat\":%ld,"
             "\"exp\":%ld,\"jti\":\"AAAAAAAAAAAAAAAAAAAAAA\",%s\"act\":\"%s\",\"data\":%s%s}",
             typ, now + iat_offset, now + iat_offset + lifetime, eid, act, data, extra);
    snprintf(aad, sizeof aad, "usersync/v1|%s|a.test|b.test", typ);
    char *text = NULL;
    size_t len = 0;
    t_seal(n->ab_ring, aad, strlen(aad), claims, strlen(claims), &text, &len);
    char *z = malloc(len + 1);
    memcpy(z, text, len);
    z[len] = '\0';
    free(text);
    return z;
}

/* Seals claims on the a→b link: typ "action", iat = now + iat_offset, lifetime seconds. */
static char *forge(struct net *n, const char *act, const char *data, long iat_offset, long lifetime,
                   const char *extra) {
    return forge_typ(n, "action", act, data, iat_offset, lifetime, extra);
}

static void round_trip_and_policy(struct net *n) {
    char *msg = build_for_b(n,
        "{\"eid\":\"ZXZlbnQtaWQtMDAwMDAwMQ\",\"act\":\"create\",\"data\":{" UID_J "\"login\":\"alice\",\"email\":\"alice@a.test\","
        "\"roles\":[\"subscriber\",\"shop_manager\"],\"meta\":{\"billing_city\":[\"Oslo\"],"
        "\"wp_capabilities\":[\"x\"],\"nickname\":[\"al\"]},\"pass_hash\":\"" BCRYPT "\"}}");
    CHECK(msg != NULL, "build create for b");
    cJSON *o = NULL;
    CHECK_RC(open_on_b(n, msg, "127.0.0.1", &o), USERSYNC_RESULT_OK, "b opens a's create");
    cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
    cJSON *roles = cJSON_GetObjectItemCaseSensitive(data, "roles");
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(data, "meta");
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(o, "iss")->valuestring, "a.test") == 0, "iss");
    CHECK(cJSON_GetArraySize(roles) == 1 &&
          strcmp(cJSON_GetArrayItem(roles, 0)->valuestring, "subscriber") == 0,
          "only roles a's send policy lets out arrive");
    CHECK(cJSON_GetArraySize(meta) == 1 && cJSON_GetObjectItemCaseSensitive(meta, "billing_city"),
          "protected and unlisted meta never leave a");
    CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(data, "pass_hash")), "hash arrives");
    CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(data, "uid")) &&
          strcmp(cJSON_GetObjectItemCaseSensitive(data, "uid")->valuestring, UID) == 0,
          "the uid arrives unchanged");
    CHECK(strlen(cJSON_GetObjectItemCaseSensitive(o, "jti")->valuestring) == 22, "jti reported");
    CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "exp")), "exp reported");
    cJSON_Delete(o);

    /* A host-side replay store: (iss, jti) recorded once; the second use is a duplicate. */
    char seen[8][64];
    int seen_n = 0, applied = 0, duplicates = 0;
    for (int round = 0; round < 2; round++) {
        CHECK_RC(open_on_b(n, msg, "127.0.0.1", &o), USERSYNC_RESULT_OK, "the library opens it");
        const char *jti = cJSON_GetObjectItemCaseSensitive(o, "jti")->valuestring;
        int dup = 0;
        for (int i = 0; i < seen_n; i++) {
            dup |= strcmp(seen[i], jti) == 0;
        }
        if (dup) {
            duplicates++;
        } else {
            snprintf(seen[seen_n++], sizeof seen[0], "%s", jti);
            applied++;
        }
        cJSON_Delete(o);
    }
    CHECK(applied == 1 && duplicates == 1, "the replayed message is refused by the host store");
    free(msg);

    /* The link health check: a pings b (policy-free), b answers with a pong a opens. */
    {
        char *pj = NULL, *oj = NULL, *qj = NULL;
        size_t pl = 0, ol = 0, ql = 0;
        CHECK_RC(usersync_context_ping(n->a, "b.test", 6, &pj, &pl), USERSYNC_RESULT_OK, "ping b");
        cJSON *ping = cJSON_ParseWithLength(pj, pl);
        const char *pm = cJSON_GetObjectItemCaseSensitive(ping, "message")->valuestring;
        CHECK_RC(usersync_context_open_action(n->b, pm, strlen(pm), "127.0.0.1", 9, &oj, &ol), USERSYNC_RESULT_OK,
                 "b opens the ping");
        CHECK_RC(usersync_context_pong(n->b, oj, ol, &qj, &ql), USERSYNC_RESULT_OK, "b answers with a pong");
        cJSON *pong = cJSON_ParseWithLength(qj, ql);
        const char *qm = cJSON_GetObjectItemCaseSensitive(pong, "message")->valuestring;
        char *aj = NULL;
        size_t al = 0;
        CHECK_RC(usersync_context_open_action(n->a, qm, strlen(qm), NULL, 0, &aj, &al), USERSYNC_RESULT_OK,
                 "a opens the pong");
        cJSON *answer = cJSON_ParseWithLength(aj, al);
        cJSON *opened = cJSON_ParseWithLength(oj, ol);
        CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(answer, "act")->valuestring, "pong") == 0 &&
              strcmp(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(answer, "data"), "ping")->valuestring,
                     cJSON_GetObjectItemCaseSensitive(opened, "jti")->valuestring) == 0,
              "the pong names the ping's jti");
        CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(ping, "jti")) &&
              strcmp(cJSON_GetObjectItemCaseSensitive(ping, "jti")->valuestring,
                     cJSON_GetObjectItemCaseSensitive(opened, "jti")->valuestring) == 0,
              "ping() returns the jti b opened");
        char *rj = NULL;
        size_t rl = 0;
        CHECK_RC(usersync_context_check_pong(n->a, pj, pl, qm, strlen(qm), NULL, 0, &rj, &rl), USERSYNC_RESULT_OK,
                 "a checks b's pong against its ping");
        cJSON *report = cJSON_ParseWithLength(rj, rl);
        CHECK(report && strcmp(cJSON_GetObjectItemCaseSensitive(report, "peer")->valuestring, "b.test") == 0 &&
                  cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(report, "time")) &&
                  cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(report, "not_accepted")) &&
                  cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(report, "not_sent")),
              "the report names the peer, its clock and the one-way actions");
        cJSON_Delete(report);
        usersync_bytes_free(rj, rl);
        rj = NULL;
        CHECK_RC(usersync_context_check_pong(n->a, pj, pl, pm, strlen(pm), NULL, 0, &rj, &rl),
                 USERSYNC_RESULT_AUTHENTICATION_FAILED, "a's own ping is no answer (sealed for the other direction)");
        CHECK(rj == NULL, "nothing is written on failure");
        CHECK_RC(usersync_context_check_pong(n->a, NULL, 5, qm, strlen(qm), NULL, 0, &rj, &rl), USERSYNC_RESULT_NULL_ARGUMENT,
                 "a NULL ping with a length is refused");
        CHECK_RC(usersync_context_pong(n->a, aj, al, &pj, &pl), USERSYNC_RESULT_DATA_INVALID, "only a ping is answered");
        CHECK_RC(usersync_context_ping(n->a, "x.test", 6, &pj, &pl), USERSYNC_RESULT_UNKNOWN_PEER, "ping an unknown peer");
        cJSON_Delete(answer);
        cJSON_Delete(opened);
        cJSON_Delete(pong);
        cJSON_Delete(ping);
        usersync_bytes_free(aj, al);
        usersync_bytes_free(qj, ql);
        usersync_bytes_free(oj, ol);
        usersync_bytes_free(pj, pl);
    }

    /* The peers, described without secrets; b is sent logins, c is not. */
    {
        char *pj = NULL;
        size_t pl = 0;
        CHECK_RC(usersync_context_peers(n->a, &pj, &pl), USERSYNC_RESULT_OK, "describe peers");
        cJSON *pa = cJSON_ParseWithLength(pj, pl);
        CHECK(cJSON_GetArraySize(pa) == 2 &&
              cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(pa, 0), "login")) &&
              cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(pa, 1), "login")),
              "b is sent logins, c is not");
        char *text = calloc(pl + 1, 1); /* library outputs are not NUL-terminated */
        memcpy(text, pj, pl);
        CHECK(strstr(text, "usk1_") == NULL, "no secret in the peers' description");
        free(text);
        cJSON_Delete(pa);
        usersync_bytes_free(pj, pl);
        CHECK_RC(usersync_context_peers(NULL, &pj, &pl), USERSYNC_RESULT_NULL_ARGUMENT, "NULL context");
    }

    /* Build for all peers: c gets create only; b gets it too. */
    char *out = NULL;
    size_t len = 0;
    const char *ev = "{\"eid\":\"ZXZlbnQtaWQtMDAwMDAwMQ\",\"act\":\"delete\",\"data\":{" UID_J "\"login\":\"alice\"}}";
    CHECK_RC(usersync_context_build(n->a, ev, strlen(ev), NULL, 0, &out, &len), USERSYNC_RESULT_OK,
             "build delete for all peers");
    cJSON *arr = cJSON_ParseWithLength(out, len);
    CHECK(cJSON_GetArraySize(arr) == 1, "delete goes to b only (c is sent create only)");
    cJSON_Delete(arr);
    usersync_bytes_free(out, len);
    const char *plain = "{\"eid\":\"ZXZlbnQtaWQtMDAwMDAwMQ\",\"act\":\"password\",\"data\":{" UID_J "\"login\":\"a\",\"pass_hash\":\"hunter2\"}}";
    CHECK_RC(usersync_context_build(n->a, plain, strlen(plain), NULL, 0, &out, &len),
             USERSYNC_RESULT_PASS_HASH_FORMAT, "a plaintext password never leaves");
    CHECK_RC(usersync_context_build(n->a, ev, strlen(ev), "x.test", 6, &out, &len),
             USERSYNC_RESULT_UNKNOWN_PEER, "unknown peer");
}

static void refusals(struct net *n) {
    char *good = build_for_b(n, "{\"eid\":\"ZXZlbnQtaWQtMDAwMDAwMQ\",\"act\":\"logout\",\"data\":{" UID_J "\"login\":\"bob\"}}");
    char *bad = dup(good);
    size_t mid = strlen(bad) / 2;
    bad[mid] = bad[mid] == 'A' ? 'B' : 'A';
    CHECK_RC(open_on_b(n, bad, "127.0.0.1", NULL), USERSYNC_RESULT_AUTHENTICATION_FAILED, "tampered");
    bad[mid] = good[mid];
    bad[strlen(bad) - 5] = '\0';
    CHECK(open_on_b(n, bad, "127.0.0.1", NULL) != USERSYNC_RESULT_OK, "truncated");
    free(bad);
    CHECK_RC(open_on_b(n, good, "192.0.2.1", NULL), USERSYNC_RESULT_IP_NOT_ALLOWED, "IP outside");
    CHECK_RC(open_on_b(n, good, NULL, NULL), USERSYNC_RESULT_IP_NOT_ALLOWED, "no IP given");
    CHECK_RC(open_on_b(n, good, "::ffff:127.0.0.1", NULL), USERSYNC_RESULT_OK, "IPv4-mapped IPv6");
    CHECK_RC(open_on_b(n, good, "2001:db8::7", NULL), USERSYNC_RESULT_OK, "IPv6 in range");
    free(good);

    /* For c, not b: b has no key with that id. */
    char *out = NULL;
    size_t len = 0;
    const char *ev = "{\"eid\":\"ZXZlbnQtaWQtMDAwMDAwMQ\",\"act\":\"create\",\"data\":{" UID_J "\"login\":\"c1\",\"email\":\"c@a.test\"}}";
    usersync_context_build(n->a, ev, strlen(ev), "c.test", 6, &out, &len);
    cJSON *arr = cJSON_ParseWithLength(out, len);
    const char *for_c = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "message")->valuestring;
    CHECK_RC(open_on_b(n, for_c, "127.0.0.1", NULL), USERSYNC_RESULT_AUTHENTICATION_FAILED,
             "a message for another site");
    cJSON_Delete(arr);
    usersync_bytes_free(out, len);

    /* b's own message to a, reflected at b: another direction. */
    const char *lo = "{\"eid\":\"ZXZlbnQtaWQtMDAwMDAwMQ\",\"act\":\"logout\",\"data\":{" UID_J "\"login\":\"bob\"}}";
    usersync_context_build(n->b, lo, strlen(lo), NULL, 0, &out, &len);
    arr = cJSON_ParseWithLength(out, len);
    const char *b_to_a = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "message")->valuestring;
    CHECK_RC(open_on_b(n, b_to_a, "127.0.0.1", NULL), USERSYNC_RESULT_AUTHENTICATION_FAILED,
             "a message for the other direction");
    cJSON_Delete(arr);
    usersync_bytes_free(out, len);

    struct { const char *act, *data; long iat, life; const char *extra; usersync_result want; const char *what; } cases[] = {
        {"logout", "{" UID_J "\"login\":\"b\"}", -1000, 300, "", USERSYNC_RESULT_EXPIRED, "expired"},
        {"logout", "{" UID_J "\"login\":\"b\"}", 3600, 60, "", USERSYNC_RESULT_NOT_YET_VALID, "far future"},
        {"logout", "{" UID_J "\"login\":\"b\"}", 0, 301, "", USERSYNC_RESULT_LIFETIME_TOO_LONG, "over-long lifetime"},
        {"delete", "{" UID_J "\"login\":\"b\"}", 0, 60, "", USERSYNC_RESULT_ACTION_NOT_ACCEPTED, "action not accepted"},
        {"update", "{" UID_J "\"login\":\"b\",\"email\":\"b@a.test\",\"roles\":[\"administrator\"]}", 0, 60, "",
         USERSYNC_RESULT_PRIVILEGED_ROLE, "administrator without allow_privileged"},
        {"update", "{" UID_J "\"login\":\"b\",\"email\":\"b@a.test\",\"meta\":{\"wp_capabilities\":[\"a:1:{}\"]}}", 0, 60, "",
         USERSYNC_RESULT_PROTECTED_META, "wp_capabilities"},
        {"meta", "{" UID_J "\"login\":\"b\",\"set\":{\"wp_user_level\":[\"10\"]}}", 0, 60, "",
         USERSYNC_RESULT_PROTECTED_META, "wp_user_level"},
        {"meta", "{" UID_J "\"login\":\"b\",\"delete\":[\"session_tokens\"]}", 0, 60, "",
         USERSYNC_RESULT_PROTECTED_META, "session_tokens"},
        {"meta", "{" UID_J "\"login\":\"b\",\"set\":{\"usersync_sid\":[\"x\"]}}", 0, 60, "",
         USERSYNC_RESULT_PROTECTED_META, "the plugin's own keys"},
        {"password", "{" UID_J "\"login\":\"b\",\"pass_hash\":\"hunter2hunter2\"}", 0, 60, "",
         USERSYNC_RESULT_PASS_HASH_FORMAT, "plaintext pass_hash"},
        {"update", "{" UID_J "\"login\":\"b\",\"email\":\"b@a.test\",\"is_admin\":true}", 0, 60, "",
         USERSYNC_RESULT_UNKNOWN_FIELD, "unknown field in data"},
        {"logout", "{" UID_J "\"login\":\"b\"}", 0, 60, ",\"admin\":true", USERSYNC_RESULT_CLAIMS_INVALID,
         "unknown claim"},
        {"update", "{" UID_J "\"login\":\"b\",\"email\":\"b@a.test\",\"meta\":{\"billing_x\":[[[[\"deep\"]]]]}}", 0, 60, "",
         USERSYNC_RESULT_DATA_INVALID, "nested beyond the schema"},
        {"login", "{" UID_J BND_J "\"login\":\"b\",\"remember\":true}", 0, 60, "", USERSYNC_RESULT_UNKNOWN_ACTION,
         "login as a server action"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = forge(n, cases[i].act, cases[i].data, cases[i].iat, cases[i].life, cases[i].extra);
        CHECK_RC(open_on_b(n, text, "127.0.0.1", NULL), cases[i].want, cases[i].what);
        free(text);
    }

    /* Invalid UTF-8, deep nesting, and an oversized text. */
    const char *aad = "usersync/v1|action|a.test|b.test";
    char *text = NULL;
    size_t tl = 0;
    t_seal(n->ab_ring, aad, strlen(aad), "{\"v\":\"\xc3\x28\"}", 9, &text, &tl);
    char *z = calloc(tl + 1, 1);
    memcpy(z, text, tl);
    CHECK_RC(open_on_b(n, z, "127.0.0.1", NULL), USERSYNC_RESULT_MALFORMED_JSON, "invalid UTF-8");
    free(text);
    free(z);
    static char deep[20001];
    memset(deep, '[', 10000);
    memset(deep + 10000, ']', 10000);
    t_seal(n->ab_ring, aad, strlen(aad), deep, 20000, &text, &tl);
    z = calloc(tl + 1, 1);
    memcpy(z, text, tl);
    CHECK_RC(open_on_b(n, z, "127.0.0.1", NULL), USERSYNC_RESULT_MALFORMED_JSON, "deeply nested JSON");
    free(text);
    free(z);
    size_t huge = (1u << 20) + 1;
    z = malloc(huge + 1);
    memset(z, 'A', huge);
    z[huge] = '\0';
    CHECK_RC(open_on_b(n, z, "127.0.0.1", NULL), USERSYNC_RESULT_TOO_LARGE, "oversized message");
    free(z);
}

static void tickets(struct net *n) {
    char *out = NULL;
    size_t len = 0;
    const char *req = "{\"peer\":\"b.test\"," UID_J BND_J "\"login\":\"lee\",\"remember\":true,"
                      "\"return\":\"https://a.test/wp-admin/\"}";
    CHECK_RC(usersync_context_mint_ticket(n->a, req, strlen(req), &out, &len), USERSYNC_RESULT_OK, "mint");
    cJSON *t = cJSON_ParseWithLength(out, len);
    usersync_bytes_free(out, len);
    const char *ticket = cJSON_GetObjectItemCaseSensitive(t, "message")->valuestring;
    CHECK_RC(usersync_context_open_ticket(n->b, ticket, strlen(ticket), &out, &len), USERSYNC_RESULT_OK,
             "b opens a's ticket");
    cJSON *o = cJSON_ParseWithLength(out, len);
    usersync_bytes_free(out, len);
    cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(data, "login")->valuestring, "lee") == 0 &&
          cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(data, "remember")),
          "ticket content");
    CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(data, "uid")) &&
          strcmp(cJSON_GetObjectItemCaseSensitive(data, "uid")->valuestring, UID) == 0 &&
          cJSON_IsString(cJSON_GetObjectItemCaseSensitive(data, "bnd")) &&
          strcmp(cJSON_GetObjectItemCaseSensitive(data, "bnd")->valuestring, BND) == 0,
          "the ticket carries its uid and bnd");
    CHECK_RC(open_on_b(n, ticket, "127.0.0.1", NULL), USERSYNC_RESULT_AUTHENTICATION_FAILED,
             "a ticket is not an action");
    cJSON_Delete(o);
    cJSON_Delete(t);

    const char *bad_returns[] = {"//evil.test", "https://a.test.evil.test/", "javascript:alert(1)",
                                 "http://a.test/", "https://a.test@evil.test/"};
    for (size_t i = 0; i < sizeof bad_returns / sizeof bad_returns[0]; i++) {
        char r[512];
        snprintf(r, sizeof r, "{\"peer\":\"b.test\"," UID_J BND_J "\"login\":\"lee\",\"remember\":false,\"return\":\"%s\"}",
                 bad_returns[i]);
        CHECK_RC(usersync_context_mint_ticket(n->a, r, strlen(r), &out, &len),
                 USERSYNC_RESULT_RETURN_URL_REFUSED, bad_returns[i]);
    }
    const char *to_c = "{\"peer\":\"c.test\"," UID_J BND_J "\"login\":\"lee\",\"remember\":false}";
    CHECK_RC(usersync_context_mint_ticket(n->a, to_c, strlen(to_c), &out, &len),
             USERSYNC_RESULT_ACTION_NOT_SENT, "c is not sent login tickets");

    char nonce[300];
    size_t nl = 0;
    CHECK_RC(usersync_nonce_new(32, nonce, sizeof nonce, &nl), USERSYNC_RESULT_OK, "nonce");
    CHECK(nl == 32 && strspn(nonce, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") >= 32,
          "a nonce is URL-safe");
    CHECK_RC(usersync_nonce_new(8, nonce, sizeof nonce, &nl), USERSYNC_RESULT_INVALID_ARGUMENT, "too short");
    CHECK_RC(usersync_nonce_new(64, nonce, 63, &nl), USERSYNC_RESULT_BUFFER_TOO_SMALL, "small buffer");
}

/* uid is required in every action's data and ticket, bnd in every ticket: refused with
 * DATA_INVALID when building, opening and minting, and nothing is written. */
static void uid_and_bnd_required(struct net *n) {
    static char sentinel;
    const size_t SENT = (size_t)0xDEADBEEF;
    struct { const char *act, *rest; } actions[] = {
        {"create", "\"login\":\"alice\",\"email\":\"alice@a.test\""},
        {"update", "\"login\":\"alice\",\"email\":\"alice@a.test\""},
        {"delete", "\"login\":\"alice\""},
        {"password", "\"login\":\"alice\",\"pass_hash\":\"" BCRYPT "\""},
        {"meta", "\"login\":\"alice\",\"set\":{\"billing_city\":[\"Oslo\"]}"},
        {"logout", "\"login\":\"alice\""},
    };
    char ev[1024], data[1024], what[160];
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        const char *act = actions[i].act;
        char *out = &sentinel;
        size_t len = SENT;
        /* With uid it builds (the control), without it it is refused. */
        snprintf(ev, sizeof ev, "{\"eid\":\"ZXZlbnQtaWQtMDAwMDAwMQ\",\"act\":\"%s\",\"data\":{" UID_J "%s}}", act, actions[i].rest);
        snprintf(what, sizeof what, "%s with uid builds", act);
        CHECK_RC(usersync_context_build(n->a, ev, strlen(ev), "b.test", 6, &out, &len), USERSYNC_RESULT_OK,
                 what);
        if (out != &sentinel) {
            usersync_bytes_free(out, len);
        }
        out = &sentinel;
        len = SENT;
        snprintf(ev, sizeof ev, "{\"eid\":\"ZXZlbnQtaWQtMDAwMDAwMQ\",\"act\":\"%s\",\"data\":{%s}}", act, actions[i].rest);
        snprintf(what, sizeof what, "%s without uid is not built", act);
        CHECK_RC(usersync_context_build(n->a, ev, strlen(ev), "b.test", 6, &out, &len),
                 USERSYNC_RESULT_DATA_INVALID, what);
        CHECK(out == &sentinel && len == SENT, "a refused build writes nothing");
        out = &sentinel;
        len = SENT;
        CHECK_RC(usersync_context_build(n->a, ev, strlen(ev), NULL, 0, &out, &len),
                 USERSYNC_RESULT_DATA_INVALID, what);
        CHECK(out == &sentinel && len == SENT, "a refused build for all peers writes nothing");

        /* A peer that sends it anyway: refused on opening (b does not accept delete at all). */
        if (strcmp(act, "delete") == 0) {
            continue;
        }
        snprintf(data, sizeof data, "{" UID_J "%s}", actions[i].rest);
        char *text = forge(n, act, data, 0, 60, "");
        snprintf(what, sizeof what, "a forged %s with uid opens", act);
        CHECK_RC(open_on_b(n, text, "127.0.0.1", NULL), USERSYNC_RESULT_OK, what);
        free(text);
        snprintf(data, sizeof data, "{%s}", actions[i].rest);
        text = forge(n, act, data, 0, 60, "");
        snprintf(what, sizeof what, "a forged %s without uid is refused on opening", act);
        CHECK_RC(open_on_b(n, text, "127.0.0.1", NULL), USERSYNC_RESULT_DATA_INVALID, what);
        free(text);
    }

    /* uid must be canonical base64url of exactly 16 bytes. */
    const char *bad_uids[] = {
        "\"dWlkLW9mLWFsaWNlLTAw\"",     /* 20 characters: 15 bytes */
        "\"dWlkLW9mLWFsaWNlLTAwM\"",    /* 21 characters: impossible length */
        "\"dWlkLW9mLWFsaWNlLTAwMQA\"",  /* 23 characters */
        "\"dWlkLW9mLWFsaWNlLTAwMQ==\"", /* padded */
        "\"dWlkLW9mLWFsaWNlLTAwMR\"",   /* non-zero trailing bits */
        "\"dWlkLW9mLWFsaWNlLTAw+Q\"",   /* '+' is not base64url */
        "\"\"",
        "null",
        "16",
    };
    for (size_t i = 0; i < sizeof bad_uids / sizeof bad_uids[0]; i++) {
        char *out = &sentinel;
        size_t len = SENT;
        snprintf(ev, sizeof ev, "{\"eid\":\"ZXZlbnQtaWQtMDAwMDAwMQ\",\"act\":\"logout\",\"data\":{\"uid\":%s,\"login\":\"alice\"}}",
                 bad_uids[i]);
        snprintf(what, sizeof what, "uid %s is refused", bad_uids[i]);
        CHECK_RC(usersync_context_build(n->a, ev, strlen(ev), "b.test", 6, &out, &len),
                 USERSYNC_RESULT_DATA_INVALID, what);
        CHECK(out == &sentinel && len == SENT, "nothing written");
    }

    /* Tickets: uid and bnd are required, bnd is a 32-byte digest in canonical base64url. */
    struct { const char *req, *what; usersync_result want; } mints[] = {
        {"{\"peer\":\"b.test\"," UID_J BND_J "\"login\":\"lee\",\"remember\":false}",
         "a mint request with uid and bnd", USERSYNC_RESULT_OK},
        {"{\"peer\":\"b.test\"," UID_J "\"login\":\"lee\",\"remember\":false}",
         "a mint request without bnd", USERSYNC_RESULT_DATA_INVALID},
        {"{\"peer\":\"b.test\"," BND_J "\"login\":\"lee\",\"remember\":false}",
         "a mint request without uid", USERSYNC_RESULT_DATA_INVALID},
        {"{\"peer\":\"b.test\",\"login\":\"lee\",\"remember\":false}",
         "a mint request without uid and bnd", USERSYNC_RESULT_DATA_INVALID},
        {"{\"peer\":\"b.test\"," UID_J "\"bnd\":null,\"login\":\"lee\",\"remember\":false}",
         "a mint request with bnd null", USERSYNC_RESULT_DATA_INVALID},
        {"{\"peer\":\"b.test\"," UID_J "\"bnd\":\"IfCceS6wHQ7MzIb1OU3NfYHwjCszL26zIQfsYIUNzV\","
         "\"login\":\"lee\",\"remember\":false}",
         "a 42-character bnd", USERSYNC_RESULT_DATA_INVALID},
        {"{\"peer\":\"b.test\"," UID_J "\"bnd\":\"IfCceS6wHQ7MzIb1OU3NfYHwjCszL26zIQfsYIUNzVV\","
         "\"login\":\"lee\",\"remember\":false}",
         "a bnd with non-zero trailing bits", USERSYNC_RESULT_DATA_INVALID},
        {"{\"peer\":\"b.test\"," UID_J "\"bnd\":\"" BND "=\",\"login\":\"lee\",\"remember\":false}",
         "a padded bnd", USERSYNC_RESULT_DATA_INVALID},
        {"{\"peer\":\"b.test\"," UID_J "\"bnd\":\"" UID "\",\"login\":\"lee\",\"remember\":false}",
         "a 16-byte bnd (a uid, not a digest)", USERSYNC_RESULT_DATA_INVALID},
        {"{\"peer\":\"b.test\",\"uid\":\"dWlkLW9mLWFsaWNlLTAwMR\"," BND_J
         "\"login\":\"lee\",\"remember\":false}",
         "a mint request with a non-canonical uid", USERSYNC_RESULT_DATA_INVALID},
    };
    for (size_t i = 0; i < sizeof mints / sizeof mints[0]; i++) {
        char *out = &sentinel;
        size_t len = SENT;
        CHECK_RC(usersync_context_mint_ticket(n->a, mints[i].req, strlen(mints[i].req), &out, &len),
                 mints[i].want, mints[i].what);
        if (mints[i].want == USERSYNC_RESULT_OK) {
            CHECK(out != &sentinel && len > 0, "a minted ticket is written");
            if (out != &sentinel) {
                usersync_bytes_free(out, len);
            }
        } else {
            CHECK(out == &sentinel && len == SENT, "a refused mint writes nothing");
        }
    }

    /* A ticket forged without uid or bnd is refused when b opens it. */
    struct { const char *data, *what; usersync_result want; } forged[] = {
        {"{" UID_J BND_J "\"login\":\"lee\",\"remember\":false}", "a forged ticket with uid and bnd",
         USERSYNC_RESULT_OK},
        {"{" UID_J "\"login\":\"lee\",\"remember\":false}", "a forged ticket without bnd",
         USERSYNC_RESULT_DATA_INVALID},
        {"{" BND_J "\"login\":\"lee\",\"remember\":false}", "a forged ticket without uid",
         USERSYNC_RESULT_DATA_INVALID},
    };
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        char *text = forge_typ(n, "ticket", "login", forged[i].data, 0, 60, "");
        char *out = &sentinel;
        size_t len = SENT;
        CHECK_RC(usersync_context_open_ticket(n->b, text, strlen(text), &out, &len), forged[i].want,
                 forged[i].what);
        if (out != &sentinel) {
            usersync_bytes_free(out, len);
        }
        free(text);
    }
}

static void configuration(void) {
    usersync_context *ctx = NULL;
    char err[200];
    size_t err_len = 0;
    const char *cfg = "{\"site_id\":\"a.test\",\"url\":\"https://a.test\",\"peers\":"
                      "[{\"id\":\"b.test\",\"url\":\"https://b.test\",\"secrets\":[\"usk1_nope\"]}]}";
    CHECK_RC(usersync_context_new(cfg, strlen(cfg), &ctx, err, sizeof err, &err_len),
             USERSYNC_RESULT_CONFIG_INVALID, "bad secret in config");
    CHECK(ctx == NULL, "no context on failure");
    CHECK(err_len > 0 && strncmp(err, "peers[0].secrets[0]: ", 21) == 0, "the detail names the field");
    CHECK_RC(usersync_context_new(cfg, strlen(cfg), &ctx, NULL, 0, NULL),
             USERSYNC_RESULT_CONFIG_INVALID, "detail not wanted");
    CHECK_RC(usersync_context_new(cfg, strlen(cfg), &ctx, err, 5, &err_len),
             USERSYNC_RESULT_CONFIG_INVALID, "short detail buffer");
    CHECK(err_len == 5, "the detail is cut to the buffer");
    CHECK_RC(usersync_context_new(cfg, strlen(cfg), NULL, NULL, 0, NULL),
             USERSYNC_RESULT_NULL_ARGUMENT, "NULL out");
    char *out = NULL;
    size_t len = 0;
    CHECK_RC(usersync_context_build(NULL, "{}", 2, NULL, 0, &out, &len), USERSYNC_RESULT_NULL_ARGUMENT,
             "build with a NULL context");
    CHECK_RC(usersync_context_open_action(NULL, "x", 1, NULL, 0, &out, &len), USERSYNC_RESULT_NULL_ARGUMENT,
             "open with a NULL context");
    usersync_context_free(NULL);
    usersync_bytes_free(NULL, 0);
    CHECK(out == NULL, "no output on failure");
}

void test_context(void) {
    struct net n;
    net_open(&n);
    round_trip_and_policy(&n);
    refusals(&n);
    tickets(&n);
    uid_and_bnd_required(&n);
    net_close(&n);
    configuration();
}
