/* Identity through the C ABI (docs/protocol.md §9, §12, §15): account uids, browser bindings,
 * return URLs, and the target check on messages really built on site a and opened on site b
 * (three configurations of b, differing only in a's accept policy); then the shared vectors of
 * tests/vectors/targets.json. */
#include "harness.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define SENT ((size_t)0xDEADBEEF)
#define URLSAFE "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#define BCRYPT "$wp$2y$10$8Ql1D5wHk9Xz7Hj5nO6wQeqQ3mM1kXb9Y7aV2aQ0n5Zq8rT3yU1xW"
#define ALL_ACTIONS "[\"create\",\"update\",\"delete\",\"password\",\"meta\",\"logout\",\"login\"]"
#define UID "dWlkLW9mLWFsaWNlLTAwMQ"       /* base64url("uid-of-alice-001") */
#define OTHER_UID "dWlkLW9mLWNhcm9sLTAwMg" /* base64url("uid-of-carol-002") */
#define SID "a-sess-1"

/* The known binding value and its bnd, computed outside the library with
 *   printf %s 'usersync binding value 0001' | openssl dgst -sha256 -binary \
 *     | basenc --base64url | tr -d '='
 * (and cross-checked with Python's hashlib + base64.urlsafe_b64encode). */
#define KNOWN_VALUE "usersync binding value 0001"
#define KNOWN_BND "IfCceS6wHQ7MzIb1OU3NfYHwjCszL26zIQfsYIUNzVU"
/* SHA-256 of 16 zero bytes, the same way:
 *   head -c 16 /dev/zero | openssl dgst -sha256 -binary | basenc --base64url | tr -d '=' */
#define ZEROS_BND "N0cI__dxndWXnsh11WzSKG9tPPfsMXo7JWMqqyjsN7s"

/* Outputs are set to these before a call; a failing call must leave them so. */
static char sentinel;
static int touched = 0; /* failing calls that wrote an output anyway */
static int touch_checked = 0;

enum { CREATE, UPDATE, DELETE, PASSWORD, META, LOGOUT, LOGIN, N_ACTS };
static const char *const ACTS[N_ACTS] = {"create", "update", "delete", "password",
                                         "meta",   "logout", "login"};

/* One configuration of site b, and a's messages as it opened them. */
struct site_b {
    const char *name;
    usersync_context *ctx;
    char *opened[N_ACTS];
    char *logout_sid;  /* a logout with "sid" */
    char *known_login; /* a ticket whose bnd is KNOWN_BND */
};

struct world {
    usersync_context *a;
    struct site_b plain; /* a may grant subscriber and editor */
    struct site_b priv;  /* ... and administrator, named exactly with allow_privileged */
    struct site_b star;  /* every role through "*", with allow_privileged */
    char binding[64];    /* the browser's binding cookie, set by b */
    char bnd[64];        /* its hash, handed to a for the ticket */
    char stranger[64];   /* another browser's binding value */
};

static char *dupn(const char *s, size_t n) {
    char *d = malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static usersync_context *make_context(const char *json) {
    usersync_context *ctx = NULL;
    char err[256];
    size_t err_len = 0;
    usersync_result rc = usersync_context_new(json, strlen(json), &ctx, err, sizeof err, &err_len);
    if (rc != USERSYNC_RESULT_OK) {
        fprintf(stderr, "context: %s: %.*s\n", usersync_result_name((uint32_t)rc), (int)err_len, err);
        exit(2);
    }
    return ctx;
}

static void untouched(int ok) {
    touch_checked++;
    if (!ok) {
        touched++;
    }
}

/* Builds an event on a for b; returns the envelope text (malloc'd) or NULL. */
static char *build_for_b(const struct world *w, const char *event) {
    char *out = NULL;
    size_t len = 0;
    usersync_result rc = usersync_context_build(w->a, event, strlen(event), "b.test", 6, &out, &len);
    if (rc != USERSYNC_RESULT_OK) {
        fprintf(stderr, "build %s: %s\n", event, usersync_result_name((uint32_t)rc));
        return NULL;
    }
    cJSON *arr = cJSON_ParseWithLength(out, len);
    usersync_bytes_free(out, len);
    cJSON *msg = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "message");
    char *text = cJSON_IsString(msg) ? dupn(msg->valuestring, strlen(msg->valuestring)) : NULL;
    cJSON_Delete(arr);
    return text;
}

/* Mints a ticket on a for b; returns the ticket text (malloc'd) or NULL. */
static char *mint_for_b(const struct world *w, const char *bnd) {
    char req[512];
    snprintf(req, sizeof req,
             "{\"peer\":\"b.test\",\"uid\":\"" UID "\",\"login\":\"alice\",\"remember\":false,"
             "\"bnd\":\"%s\",\"return\":\"https://b.test/shop/\"}",
             bnd);
    char *out = NULL;
    size_t len = 0;
    usersync_result rc = usersync_context_mint_ticket(w->a, req, strlen(req), &out, &len);
    if (rc != USERSYNC_RESULT_OK) {
        fprintf(stderr, "mint: %s\n", usersync_result_name((uint32_t)rc));
        return NULL;
    }
    cJSON *t = cJSON_ParseWithLength(out, len);
    usersync_bytes_free(out, len);
    cJSON *msg = cJSON_GetObjectItemCaseSensitive(t, "message");
    char *text = cJSON_IsString(msg) ? dupn(msg->valuestring, strlen(msg->valuestring)) : NULL;
    cJSON_Delete(t);
    return text;
}

/* Opens a message on b exactly as a host does; returns the opened JSON (malloc'd) or NULL. */
static char *open_on(const struct site_b *b, const char *text, int ticket) {
    char *out = NULL;
    size_t len = 0;
    if (text == NULL) {
        return NULL;
    }
    usersync_result rc = ticket ? usersync_context_open_ticket(b->ctx, text, strlen(text), &out, &len)
                                : usersync_context_open_action(b->ctx, text, strlen(text), NULL, 0, &out, &len);
    if (rc != USERSYNC_RESULT_OK) {
        fprintf(stderr, "open on b (%s): %s\n", b->name, usersync_result_name((uint32_t)rc));
        return NULL;
    }
    char *opened = dupn(out, len);
    usersync_bytes_free(out, len);
    return opened;
}

/* A verdict compared structurally: the same "do", the same end_sessions in order (or both
 * absent), and nothing else. */
static int verdict_equals(const cJSON *got, const cJSON *want) {
    if (!cJSON_IsObject(got) || !cJSON_IsObject(want) ||
        cJSON_GetArraySize(got) != cJSON_GetArraySize(want)) {
        return 0;
    }
    const cJSON *gd = cJSON_GetObjectItemCaseSensitive(got, "do");
    const cJSON *wd = cJSON_GetObjectItemCaseSensitive(want, "do");
    if (!cJSON_IsString(gd) || !cJSON_IsString(wd) || strcmp(gd->valuestring, wd->valuestring) != 0) {
        return 0;
    }
    const cJSON *ge = cJSON_GetObjectItemCaseSensitive(got, "end_sessions");
    const cJSON *we = cJSON_GetObjectItemCaseSensitive(want, "end_sessions");
    if (ge == NULL || we == NULL) {
        return ge == NULL && we == NULL && cJSON_GetArraySize(want) == 1;
    }
    if (!cJSON_IsArray(ge) || !cJSON_IsArray(we) || cJSON_GetArraySize(ge) != cJSON_GetArraySize(we)) {
        return 0;
    }
    for (int i = 0; i < cJSON_GetArraySize(we); i++) {
        const cJSON *g = cJSON_GetArrayItem(ge, i), *x = cJSON_GetArrayItem(we, i);
        if (!cJSON_IsString(g) || !cJSON_IsString(x) || strcmp(g->valuestring, x->valuestring) != 0) {
            return 0;
        }
    }
    return 1;
}

/* Runs the target check; on success *verdict receives the parsed verdict (else NULL) and on
 * failure the outputs must be untouched. */
static usersync_result target(const usersync_context *ctx, const char *opened, size_t opened_len,
                              const char *facts, size_t facts_len, cJSON **verdict, char **raw) {
    char *out = &sentinel;
    size_t len = SENT;
    usersync_result rc =
        usersync_context_check_target(ctx, opened, opened_len, facts, facts_len, &out, &len);
    *verdict = NULL;
    if (raw) {
        *raw = NULL;
    }
    if (rc == USERSYNC_RESULT_OK) {
        *verdict = cJSON_ParseWithLength(out, len);
        if (raw) {
            *raw = dupn(out, len);
        }
        usersync_bytes_free(out, len);
    } else {
        untouched(out == &sentinel && len == SENT);
    }
    return rc;
}

/* Expects the target check of `opened` with `facts` on b to give want_rc and, when that is OK,
 * the verdict want_verdict (JSON). */
static void expect(const struct site_b *b, const char *opened, const char *facts,
                   usersync_result want_rc, const char *want_verdict, const char *what) {
    char msg[300];
    snprintf(msg, sizeof msg, "%s (b %s)", what, b->name);
    if (opened == NULL) {
        CHECK(0, msg);
        return;
    }
    cJSON *got = NULL;
    char *raw = NULL;
    usersync_result rc = target(b->ctx, opened, strlen(opened), facts, strlen(facts), &got, &raw);
    CHECK_RC(rc, want_rc, msg);
    if (rc == USERSYNC_RESULT_OK && want_rc == USERSYNC_RESULT_OK) {
        cJSON *want = cJSON_Parse(want_verdict);
        int ok = verdict_equals(got, want);
        if (!ok) {
            fprintf(stderr, "  verdict %s, want %s\n", raw, want_verdict);
        }
        CHECK(ok, msg);
        cJSON_Delete(want);
    }
    free(raw);
    cJSON_Delete(got);
}

#define MATRIX_SESSIONS \
    "[{\"id\":\"s-local\"},{\"id\":\"s-from-a\",\"iss\":\"a.test\",\"sid\":\"" SID "\"}]"
#define MATRIX_ENDS "{\"do\":\"apply\",\"end_sessions\":[\"s-local\",\"s-from-a\"]}"

/* Facts about a linked account: uid, roles, super_admin (-1: not given), plus what the action
 * needs: the browser's binding for a ticket, sessions for a logout. */
static void account_facts(const struct world *w, int act, const char *uid, const char *roles,
                          int super_admin, char *buf, size_t cap) {
    char sa[32] = "";
    if (super_admin >= 0) {
        snprintf(sa, sizeof sa, ",\"super_admin\":%s", super_admin ? "true" : "false");
    }
    char binding[128] = "";
    if (act == LOGIN) {
        snprintf(binding, sizeof binding, ",\"binding\":\"%s\"", w->binding);
    }
    snprintf(buf, cap, "{\"account\":{\"uid\":\"%s\",\"roles\":%s%s%s}%s}", uid, roles, sa,
             act == LOGOUT ? ",\"sessions\":" MATRIX_SESSIONS : "", binding);
}

static void open_all(const struct world *w, struct site_b *b) {
    static const char *const events[] = {
        "{\"eid\":\"ZXZlbnQtaWQtMDAwMDAwMQ\",\"act\":\"create\",\"data\":{\"uid\":\"" UID "\",\"login\":\"alice\",\"email\":\"alice@a.test\","
        "\"fields\":{\"display_name\":\"Alice\"}}}",
        "{\"eid\":\"ZXZlbnQtaWQtMDAwMDAwMQ\",\"act\":\"update\",\"data\":{\"uid\":\"" UID "\",\"login\":\"alice\",\"email\":\"alice@a.test\","
        "\"fields\":{\"display_name\":\"Alice A.\"}}}",
        "{\"eid\":\"ZXZlbnQtaWQtMDAwMDAwMQ\",\"act\":\"delete\",\"data\":{\"uid\":\"" UID "\",\"login\":\"alice\"}}",
        "{\"eid\":\"ZXZlbnQtaWQtMDAwMDAwMQ\",\"act\":\"password\",\"data\":{\"uid\":\"" UID "\",\"login\":\"alice\",\"pass_hash\":\"" BCRYPT "\"}}",
        "{\"eid\":\"ZXZlbnQtaWQtMDAwMDAwMQ\",\"act\":\"meta\",\"data\":{\"uid\":\"" UID "\",\"login\":\"alice\","
        "\"set\":{\"billing_city\":[\"Oslo\"]},\"delete\":[\"billing_zip\"]}}",
        "{\"eid\":\"ZXZlbnQtaWQtMDAwMDAwMQ\",\"act\":\"logout\",\"data\":{\"uid\":\"" UID "\",\"login\":\"alice\"}}",
    };
    for (int i = 0; i < LOGIN; i++) {
        char *text = build_for_b(w, events[i]);
        b->opened[i] = open_on(b, text, 0);
        free(text);
    }
    char *text = build_for_b(w, "{\"eid\":\"ZXZlbnQtaWQtMDAwMDAwMQ\",\"act\":\"logout\",\"data\":{\"uid\":\"" UID "\",\"login\":\"alice\","
                                "\"sid\":\"" SID "\"}}");
    b->logout_sid = open_on(b, text, 0);
    free(text);
    text = mint_for_b(w, w->bnd);
    b->opened[LOGIN] = open_on(b, text, 1);
    free(text);
    text = mint_for_b(w, KNOWN_BND);
    b->known_login = open_on(b, text, 1);
    free(text);

    char what[120];
    for (int i = 0; i < N_ACTS; i++) {
        snprintf(what, sizeof what, "a's %s is built and opened on b (%s)", ACTS[i], b->name);
        CHECK(b->opened[i] != NULL, what);
    }
    CHECK(b->logout_sid != NULL && b->known_login != NULL, "a's logout with sid and second ticket open");
    /* What b opened names the account by uid, and the ticket carries the browser's bnd. */
    cJSON *t = b->opened[LOGIN] ? cJSON_Parse(b->opened[LOGIN]) : NULL;
    cJSON *data = cJSON_GetObjectItemCaseSensitive(t, "data");
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(data, "uid");
    const cJSON *bnd = cJSON_GetObjectItemCaseSensitive(data, "bnd");
    CHECK(cJSON_IsString(uid) && strcmp(uid->valuestring, UID) == 0 && cJSON_IsString(bnd) &&
              strcmp(bnd->valuestring, w->bnd) == 0,
          "the opened ticket carries uid and bnd");
    cJSON_Delete(t);
}

static void close_site(struct site_b *b) {
    for (int i = 0; i < N_ACTS; i++) {
        free(b->opened[i]);
    }
    free(b->logout_sid);
    free(b->known_login);
    usersync_context_free(b->ctx);
}

static void world_open(struct world *w) {
    static char cfg[4096];
    const char *secret = t_secret(4);
    memset(w, 0, sizeof *w);
    snprintf(cfg, sizeof cfg,
             "{\"site_id\":\"a.test\",\"url\":\"https://a.test\",\"peers\":["
             "{\"id\":\"b.test\",\"url\":\"https://b.test\",\"secrets\":[\"%s\"],"
             " \"send\":{\"actions\":" ALL_ACTIONS ",\"roles\":[\"*\"],\"meta\":[\"billing_*\"]}}]}",
             secret);
    w->a = make_context(cfg);
    struct { struct site_b *b; const char *name, *roles, *extra; } sites[] = {
        {&w->plain, "plain", "[\"subscriber\",\"editor\"]", ""},
        {&w->priv, "allow_privileged", "[\"subscriber\",\"editor\",\"administrator\"]",
         ",\"allow_privileged\":true"},
        {&w->star, "roles *", "[\"*\"]", ",\"allow_privileged\":true"},
    };
    /* b sets the browser's binding cookie (a 43-character nonce) and hands a its hash. */
    size_t n = 0;
    if (usersync_nonce_new(43, w->binding, sizeof w->binding - 1, &n) != USERSYNC_RESULT_OK ||
        usersync_binding_hash(w->binding, n, w->bnd, sizeof w->bnd - 1, &n) != USERSYNC_RESULT_OK ||
        usersync_nonce_new(43, w->stranger, sizeof w->stranger - 1, &n) != USERSYNC_RESULT_OK) {
        fprintf(stderr, "cannot make a binding\n");
        exit(2);
    }
    for (size_t i = 0; i < sizeof sites / sizeof sites[0]; i++) {
        snprintf(cfg, sizeof cfg,
                 "{\"site_id\":\"b.test\",\"url\":\"https://b.test\",\"peers\":["
                 "{\"id\":\"a.test\",\"url\":\"https://a.test\",\"secrets\":[\"%s\"],"
                 " \"accept\":{\"actions\":" ALL_ACTIONS ",\"roles\":%s,\"meta\":[\"billing_*\"]%s}}]}",
                 secret, sites[i].roles, sites[i].extra);
        sites[i].b->name = sites[i].name;
        sites[i].b->ctx = make_context(cfg);
        open_all(w, sites[i].b);
    }
}

static void world_close(struct world *w) {
    usersync_context_free(w->a);
    close_site(&w->plain);
    close_site(&w->priv);
    close_site(&w->star);
}

/* §15 step 5 for every action and the ticket: linked accounts, protected or not. */
static void protected_accounts(const struct world *w) {
    const struct site_b *plain = &w->plain, *priv = &w->priv, *star = &w->star;
    struct {
        const struct site_b *b;
        const char *uid, *roles;
        int super_admin;
        usersync_result want;
        const char *what;
    } rows[] = {
        {plain, UID, "[\"subscriber\"]", 0, USERSYNC_RESULT_OK, "a linked subscriber"},
        {plain, UID, "[\"subscriber\"]", -1, USERSYNC_RESULT_OK, "super_admin not given"},
        {plain, UID, "[\"subscriber\",\"editor\"]", 0, USERSYNC_RESULT_OK, "several roles, all grantable"},
        {plain, UID, "[]", 0, USERSYNC_RESULT_OK, "an account with no role"},
        {plain, UID, "[\"administrator\"]", 0, USERSYNC_RESULT_PROTECTED_ACCOUNT,
         "an administrator, privileged not allowed"},
        {plain, UID, "[\"subscriber\",\"administrator\"]", 0, USERSYNC_RESULT_PROTECTED_ACCOUNT,
         "a subscriber who is also administrator"},
        {plain, UID, "[\"subscriber\",\"shop_manager\"]", 0, USERSYNC_RESULT_PROTECTED_ACCOUNT,
         "several roles, one not granted"},
        {plain, UID, "[\"subscriber\"]", 1, USERSYNC_RESULT_PROTECTED_ACCOUNT, "a super admin subscriber"},
        {plain, UID, "[]", 1, USERSYNC_RESULT_PROTECTED_ACCOUNT, "a super admin with no role here"},
        {priv, UID, "[\"administrator\"]", 0, USERSYNC_RESULT_OK,
         "an administrator, named exactly with allow_privileged"},
        {priv, UID, "[\"subscriber\",\"administrator\"]", 0, USERSYNC_RESULT_OK,
         "subscriber and administrator, both granted"},
        {priv, UID, "[\"administrator\"]", 1, USERSYNC_RESULT_PROTECTED_ACCOUNT,
         "a super admin where super_admin is not named"},
        {priv, UID, "[\"administrator\",\"shop_manager\"]", 0, USERSYNC_RESULT_PROTECTED_ACCOUNT,
         "an administrator who also holds an ungranted role"},
        {star, UID, "[\"administrator\"]", 0, USERSYNC_RESULT_PROTECTED_ACCOUNT,
         "an administrator matched only by \"*\""},
        {star, UID, "[]", 1, USERSYNC_RESULT_PROTECTED_ACCOUNT, "a super admin matched only by \"*\""},
        {star, UID, "[\"shop_manager\",\"subscriber\"]", 0, USERSYNC_RESULT_OK, "ordinary roles through \"*\""},
        {plain, OTHER_UID, "[\"subscriber\"]", 0, USERSYNC_RESULT_IDENTITY_CONFLICT,
         "the account the host found has another uid"},
        {plain, OTHER_UID, "[\"administrator\"]", 1, USERSYNC_RESULT_IDENTITY_CONFLICT,
         "another uid decides before the protected check"},
    };
    char facts[1024], what[300];
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        for (int act = 0; act < N_ACTS; act++) {
            account_facts(w, act, rows[r].uid, rows[r].roles, rows[r].super_admin, facts, sizeof facts);
            snprintf(what, sizeof what, "%s: %s", ACTS[act], rows[r].what);
            expect(rows[r].b, rows[r].b->opened[act], facts, rows[r].want,
                   act == LOGOUT ? MATRIX_ENDS : "{\"do\":\"apply\"}", what);
        }
    }
}

/* §15 step 4: no local account is linked to the uid. */
static void no_account(const struct world *w) {
    const struct site_b *plain = &w->plain, *star = &w->star;
    const char *create = plain->opened[CREATE];
    expect(plain, create, "{\"account\":null}", USERSYNC_RESULT_OK, "{\"do\":\"create\"}",
           "create: no account, login and email free");
    expect(plain, create, "{\"account\":null,\"login_taken\":false,\"email_taken\":false}",
           USERSYNC_RESULT_OK, "{\"do\":\"create\"}", "create: login_taken and email_taken false");
    expect(plain, create, "{\"account\":null,\"login_taken\":true}", USERSYNC_RESULT_IDENTITY_CONFLICT,
           NULL, "create: the login belongs to an unlinked local account");
    expect(plain, create, "{\"account\":null,\"email_taken\":true}", USERSYNC_RESULT_IDENTITY_CONFLICT,
           NULL, "create: the email belongs to an unlinked local account");
    expect(plain, create, "{\"account\":null,\"login_taken\":true,\"email_taken\":true}",
           USERSYNC_RESULT_IDENTITY_CONFLICT, NULL, "create: login and email taken");
    expect(star, star->opened[CREATE], "{\"account\":null,\"login_taken\":true,\"email_taken\":false}",
           USERSYNC_RESULT_IDENTITY_CONFLICT, NULL, "create: login taken, from a peer granting every role");
    expect(plain, create,
           "{\"account\":{\"uid\":\"" UID "\",\"roles\":[\"subscriber\"]},\"login_taken\":true,"
           "\"email_taken\":true}",
           USERSYNC_RESULT_OK, "{\"do\":\"apply\"}", "create: the uid is already linked (an update)");

    const int refused[] = {UPDATE, PASSWORD, META};
    char what[200], facts[256];
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        snprintf(what, sizeof what, "%s: no linked account", ACTS[refused[i]]);
        expect(plain, plain->opened[refused[i]], "{\"account\":null}", USERSYNC_RESULT_UNKNOWN_ACCOUNT,
               NULL, what);
        snprintf(what, sizeof what, "%s: no linked account, the login taken", ACTS[refused[i]]);
        expect(plain, plain->opened[refused[i]], "{\"account\":null,\"login_taken\":true}",
               USERSYNC_RESULT_UNKNOWN_ACCOUNT, NULL, what);
    }
    snprintf(facts, sizeof facts, "{\"account\":null,\"binding\":\"%s\"}", w->binding);
    expect(plain, plain->opened[LOGIN], facts, USERSYNC_RESULT_UNKNOWN_ACCOUNT, NULL,
           "ticket: no linked account (right binding)");

    expect(plain, plain->opened[DELETE], "{\"account\":null}", USERSYNC_RESULT_OK, "{\"do\":\"skip\"}",
           "delete: no linked account");
    expect(plain, plain->opened[LOGOUT], "{\"account\":null}", USERSYNC_RESULT_OK, "{\"do\":\"skip\"}",
           "logout: no linked account");
    expect(plain, plain->logout_sid, "{\"account\":null}", USERSYNC_RESULT_OK, "{\"do\":\"skip\"}",
           "logout with sid: no linked account");
    expect(plain, plain->opened[DELETE], "{\"account\":null,\"login_taken\":true}", USERSYNC_RESULT_OK,
           "{\"do\":\"skip\"}", "delete: no linked account, the login taken");
}

/* §15 step 6: which sessions a logout ends. */
static void logout_sessions(const struct world *w) {
    const struct site_b *b = &w->plain;
#define ACCOUNT_WITH(sessions) \
    "{\"account\":{\"uid\":\"" UID "\",\"roles\":[\"subscriber\"],\"super_admin\":false" sessions "}}"
#define MANY                                                                                  \
    ",\"sessions\":[{\"id\":\"plain-local\"},"                                                \
    "{\"id\":\"from-a\",\"iss\":\"a.test\",\"sid\":\"" SID "\"},"                              \
    "{\"id\":\"from-a-other\",\"iss\":\"a.test\",\"sid\":\"a-sess-2\"},"                       \
    "{\"id\":\"from-c-same-sid\",\"iss\":\"c.test\",\"sid\":\"" SID "\",\"peers\":[\"a.test\"]}," \
    "{\"id\":\"" SID "\",\"iss\":null,\"sid\":null,\"peers\":[\"c.test\",\"a.test\"]},"       \
    "{\"id\":\"local-sent-to-a\",\"peers\":[\"a.test\"]},"                                    \
    "{\"id\":\"from-a-no-sid\",\"iss\":\"a.test\"},"                                          \
    "{\"id\":\"from-a-again\",\"iss\":\"a.test\",\"sid\":\"" SID "\",\"peers\":[]}]"
    expect(b, b->opened[LOGOUT], ACCOUNT_WITH(MANY), USERSYNC_RESULT_OK,
           "{\"do\":\"apply\",\"end_sessions\":[\"plain-local\",\"from-a\",\"from-a-other\","
           "\"from-c-same-sid\",\"" SID "\",\"local-sent-to-a\",\"from-a-no-sid\",\"from-a-again\"]}",
           "logout without sid: every session ends, in order");
    expect(b, b->logout_sid, ACCOUNT_WITH(MANY), USERSYNC_RESULT_OK,
           "{\"do\":\"apply\",\"end_sessions\":[\"from-a\",\"" SID "\",\"from-a-again\"]}",
           "logout with sid: the sessions from a's session and the local one that sent a a ticket");
    expect(b, b->logout_sid, ACCOUNT_WITH(",\"sessions\":[{\"id\":\"" SID "\",\"peers\":[\"c.test\"]}]"),
           USERSYNC_RESULT_OK, "{\"do\":\"apply\",\"end_sessions\":[]}",
           "logout with sid: a local session named sid that sent a no ticket stays");
    expect(b, b->logout_sid, ACCOUNT_WITH(",\"sessions\":[{\"id\":\"" SID "\"}]"), USERSYNC_RESULT_OK,
           "{\"do\":\"apply\",\"end_sessions\":[]}",
           "logout with sid: a local session named sid with no peers stays");
    expect(b, b->logout_sid,
           ACCOUNT_WITH(",\"sessions\":[{\"id\":\"x\",\"iss\":\"a.test\",\"sid\":\"A-SESS-1\"}]"),
           USERSYNC_RESULT_OK, "{\"do\":\"apply\",\"end_sessions\":[]}",
           "logout with sid: the sid is compared exactly");
    expect(b, b->logout_sid, ACCOUNT_WITH(",\"sessions\":[]"), USERSYNC_RESULT_OK,
           "{\"do\":\"apply\",\"end_sessions\":[]}", "logout with sid: an empty session list");
    expect(b, b->opened[LOGOUT], ACCOUNT_WITH(""), USERSYNC_RESULT_OK,
           "{\"do\":\"apply\",\"end_sessions\":[]}", "logout without sid: sessions not given");
    expect(b, b->logout_sid, ACCOUNT_WITH(""), USERSYNC_RESULT_OK,
           "{\"do\":\"apply\",\"end_sessions\":[]}", "logout with sid: sessions not given");
    expect(b, b->logout_sid,
           "{\"account\":{\"uid\":\"" UID "\",\"roles\":[\"administrator\"]" MANY "}}",
           USERSYNC_RESULT_PROTECTED_ACCOUNT, NULL, "logout with sid: a protected account ends nothing");
    /* Only a logout's verdict lists sessions. */
    expect(b, b->opened[UPDATE],
           "{\"account\":{\"uid\":\"" UID "\",\"roles\":[\"subscriber\"]" MANY "}}", USERSYNC_RESULT_OK,
           "{\"do\":\"apply\"}", "update: sessions in the facts are not ended");
#undef MANY
#undef ACCOUNT_WITH
}

/* §12 browser binding and §15 step 2. */
static void ticket_bindings(const struct world *w) {
    const struct site_b *b = &w->plain;
    const char *t = b->opened[LOGIN];
    char facts[512];
#define SUB "{\"uid\":\"" UID "\",\"roles\":[\"subscriber\"],\"super_admin\":false}"
    expect(b, t, "{\"account\":" SUB "}", USERSYNC_RESULT_WRONG_BROWSER, NULL, "ticket: binding missing");
    expect(b, t, "{\"account\":" SUB ",\"binding\":null}", USERSYNC_RESULT_WRONG_BROWSER, NULL,
           "ticket: binding null");
    snprintf(facts, sizeof facts, "{\"account\":" SUB ",\"binding\":\"%s\"}", w->stranger);
    expect(b, t, facts, USERSYNC_RESULT_WRONG_BROWSER, NULL, "ticket: another browser's binding");
    snprintf(facts, sizeof facts, "{\"account\":" SUB ",\"binding\":\"%s\"}", w->bnd);
    expect(b, t, facts, USERSYNC_RESULT_WRONG_BROWSER, NULL, "ticket: the hash itself as the binding");
    snprintf(facts, sizeof facts, "{\"account\":" SUB ",\"binding\":\"%s\\n\"}", w->binding);
    expect(b, t, facts, USERSYNC_RESULT_WRONG_BROWSER, NULL, "ticket: the binding with a newline");
    snprintf(facts, sizeof facts, "{\"account\":" SUB ",\"binding\":\"%.42s\"}", w->binding);
    expect(b, t, facts, USERSYNC_RESULT_WRONG_BROWSER, NULL, "ticket: the binding cut by one");
    snprintf(facts, sizeof facts, "{\"account\":" SUB ",\"binding\":\"\"}");
    expect(b, t, facts, USERSYNC_RESULT_WRONG_BROWSER, NULL, "ticket: an empty binding");
    snprintf(facts, sizeof facts, "{\"account\":" SUB ",\"binding\":\"%s\"}", w->binding);
    expect(b, t, facts, USERSYNC_RESULT_OK, "{\"do\":\"apply\"}",
           "ticket: the right binding (bnd from usersync_binding_hash)");
    expect(b, b->known_login, "{\"account\":" SUB ",\"binding\":\"" KNOWN_VALUE "\"}", USERSYNC_RESULT_OK,
           "{\"do\":\"apply\"}", "ticket: the known binding value for the independently computed bnd");
    snprintf(facts, sizeof facts, "{\"account\":" SUB ",\"binding\":\"%s\"}", w->binding);
    expect(b, b->known_login, facts, USERSYNC_RESULT_WRONG_BROWSER, NULL,
           "ticket: one browser's binding with another's ticket");
    /* The binding is checked first: before the account, its uid and its roles. */
    snprintf(facts, sizeof facts, "{\"account\":null,\"binding\":\"%s\"}", w->stranger);
    expect(b, t, facts, USERSYNC_RESULT_WRONG_BROWSER, NULL, "ticket: a wrong binding, no account");
    expect(b, t, "{\"account\":null}", USERSYNC_RESULT_WRONG_BROWSER, NULL, "ticket: no binding, no account");
    snprintf(facts, sizeof facts,
             "{\"account\":{\"uid\":\"" OTHER_UID "\",\"roles\":[\"subscriber\"]},\"binding\":\"%s\"}",
             w->stranger);
    expect(b, t, facts, USERSYNC_RESULT_WRONG_BROWSER, NULL, "ticket: a wrong binding, another uid");
    expect(b, t, "{\"account\":{\"uid\":\"" UID "\",\"roles\":[\"administrator\"]}}",
           USERSYNC_RESULT_WRONG_BROWSER, NULL, "ticket: no binding, a protected account");
    /* An action has no binding: a binding in its facts changes nothing. */
    snprintf(facts, sizeof facts, "{\"account\":" SUB ",\"binding\":\"%s\"}", w->stranger);
    expect(b, b->opened[UPDATE], facts, USERSYNC_RESULT_OK, "{\"do\":\"apply\"}",
           "update: a binding in the facts is ignored");
#undef SUB
}

/* §15 step 1: malformed inputs. */
static void malformed(const struct world *w) {
    const struct site_b *b = &w->plain;
    const char *facts = "{\"account\":{\"uid\":\"" UID "\",\"roles\":[\"subscriber\"]}}";
    const char *upd = b->opened[UPDATE];
    if (upd == NULL) {
        CHECK(0, "an opened update to edit");
        return;
    }
    struct { const char *path, *value, *what; usersync_result want; } edits[] = {
        {"data.uid", NULL, "opened without data.uid", USERSYNC_RESULT_DATA_INVALID},
        {"data.uid", "7", "opened with data.uid a number", USERSYNC_RESULT_DATA_INVALID},
        {"data.uid", "\"dWlkLW9mLWFsaWNlLTAwMR\"", "opened with a non-canonical data.uid",
         USERSYNC_RESULT_DATA_INVALID},
        {"data", "[]", "opened with data not an object", USERSYNC_RESULT_DATA_INVALID},
        {"act", NULL, "opened without act", USERSYNC_RESULT_DATA_INVALID},
        {"act", "\"promote\"", "opened with an unknown act", USERSYNC_RESULT_DATA_INVALID},
        {"iss", NULL, "opened without iss", USERSYNC_RESULT_DATA_INVALID},
        {"iss", "\"z.test\"", "opened from a site that is not a peer", USERSYNC_RESULT_UNKNOWN_PEER},
        {"iss", "\"b.test\"", "opened from this site itself", USERSYNC_RESULT_UNKNOWN_PEER},
        {"iss", "\"a.test\"", "the same opened object, unedited (the control)", USERSYNC_RESULT_OK},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        cJSON *o = cJSON_Parse(upd);
        cJSON *parent = o;
        const char *key = edits[i].path;
        if (strncmp(key, "data.", 5) == 0) {
            parent = cJSON_GetObjectItemCaseSensitive(o, "data");
            key += 5;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
        if (edits[i].value) {
            cJSON_AddItemToObject(parent, key, cJSON_Parse(edits[i].value));
        }
        char *text = cJSON_PrintUnformatted(o);
        expect(b, text, facts, edits[i].want, "{\"do\":\"apply\"}", edits[i].what);
        free(text);
        cJSON_Delete(o);
    }
    const char *bad_opened[] = {"", "null", "[]", "\"x\"", "{", "{\"iss\":\"a.test\"}"};
    for (size_t i = 0; i < sizeof bad_opened / sizeof bad_opened[0]; i++) {
        expect(b, bad_opened[i], facts, USERSYNC_RESULT_DATA_INVALID, NULL, "opened is not an opened message");
    }
    const char *bad_facts[] = {
        "", "{", "[]", "null", "\"{}\"", "7",
        "{}",                       /* account is required: null when nothing is linked */
        "{\"login_taken\":false}",
        "{\"binding\":\"" KNOWN_VALUE "\"}",
        "{\"account\":\"alice\"}",
        "{\"account\":{\"uid\":\"" UID "\"}}", /* roles are required */
        "{\"account\":{\"uid\":\"" UID "\",\"super_admin\":false}}",
        "{\"account\":{\"roles\":[\"subscriber\"]}}",
        "{\"account\":{\"uid\":7,\"roles\":[]}}",
        "{\"account\":{\"uid\":\"" UID "\",\"roles\":\"subscriber\"}}",
        "{\"account\":{\"uid\":\"" UID "\",\"roles\":[7]}}",
        "{\"account\":{\"uid\":\"" UID "\",\"roles\":[],\"super_admin\":\"no\"}}",
        "{\"account\":{\"uid\":\"" UID "\",\"roles\":[],\"sessions\":{}}}",
        "{\"account\":{\"uid\":\"" UID "\",\"roles\":[],\"sessions\":[{\"iss\":\"a.test\"}]}}",
        "{\"account\":{\"uid\":\"" UID "\",\"roles\":[],\"is_admin\":true}}",
        "{\"account\":null,\"login_taken\":\"yes\"}",
        "{\"account\":null,\"email_taken\":1}",
        "{\"account\":null,\"binding\":7}",
        "{\"account\":null,\"admin\":true}",
    };
    for (size_t i = 0; i < sizeof bad_facts / sizeof bad_facts[0]; i++) {
        char what[300];
        snprintf(what, sizeof what, "facts %s are malformed", bad_facts[i]);
        expect(b, upd, bad_facts[i], USERSYNC_RESULT_DATA_INVALID, NULL, what);
    }
}

static int urlsafe(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0' || strchr(URLSAFE, s[i]) == NULL) {
            return 0;
        }
    }
    return 1;
}

static int all_bytes(const char *buf, size_t n, unsigned char value) {
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)buf[i] != value) {
            return 0;
        }
    }
    return 1;
}

static void uids(const struct world *w) {
    char a[64], b[64];
    size_t la = SENT, lb = SENT;
    CHECK(usersync_uid_len() == 22, "usersync_uid_len() is 22");
    memset(a, 0xAA, sizeof a);
    memset(b, 0xAA, sizeof b);
    CHECK_RC(usersync_uid_new(a, sizeof a, &la), USERSYNC_RESULT_OK, "uid_new");
    CHECK_RC(usersync_uid_new(b, usersync_uid_len(), &lb), USERSYNC_RESULT_OK,
             "uid_new into exactly usersync_uid_len() bytes");
    CHECK(la == usersync_uid_len() && lb == usersync_uid_len(), "a uid has usersync_uid_len() characters");
    CHECK(urlsafe(a, la) && urlsafe(b, lb), "a uid is URL-safe");
    CHECK(all_bytes(a + 22, sizeof a - 22, 0xAA), "nothing written past the uid");
    CHECK(memcmp(a, b, 22) != 0, "two uids differ");
    size_t raw_len = 0, back_len = 0;
    unsigned char *raw = t_b64u_decode(a, la, &raw_len);
    char *back = raw ? t_b64u_encode(raw, raw_len, &back_len) : NULL;
    CHECK(raw_len == 16 && back && back_len == la && memcmp(back, a, la) == 0,
          "a uid is 16 bytes in canonical base64url");
    free(raw);
    free(back);

    /* A minted uid is what the protocol takes: a's create with it opens on b. */
    char ev[256];
    snprintf(ev, sizeof ev, "{\"eid\":\"ZXZlbnQtaWQtMDAwMDAwMQ\",\"act\":\"create\",\"data\":{\"uid\":\"%.22s\",\"login\":\"newbie\","
                            "\"email\":\"newbie@a.test\"}}", a);
    char *text = build_for_b(w, ev);
    char *opened = open_on(&w->plain, text, 0);
    cJSON *o = opened ? cJSON_Parse(opened) : NULL;
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "data"), "uid");
    CHECK(cJSON_IsString(uid) && strlen(uid->valuestring) == 22 && memcmp(uid->valuestring, a, 22) == 0,
          "a minted uid travels in a's create to b");
    expect(&w->plain, opened, "{\"account\":null}", USERSYNC_RESULT_OK, "{\"do\":\"create\"}",
           "create with a freshly minted uid");
    cJSON_Delete(o);
    free(opened);
    free(text);

    memset(a, 0xAA, sizeof a);
    la = SENT;
    CHECK_RC(usersync_uid_new(a, usersync_uid_len() - 1, &la), USERSYNC_RESULT_BUFFER_TOO_SMALL,
             "uid_new into a buffer one byte short");
    CHECK(all_bytes(a, sizeof a, 0xAA) && la == SENT, "nothing written into a short uid buffer");
    CHECK_RC(usersync_uid_new(NULL, 0, &la), USERSYNC_RESULT_BUFFER_TOO_SMALL, "uid_new into (NULL, 0)");
    CHECK_RC(usersync_uid_new(NULL, 22, &la), USERSYNC_RESULT_NULL_ARGUMENT, "uid_new with a NULL buffer");
    CHECK_RC(usersync_uid_new(a, sizeof a, NULL), USERSYNC_RESULT_NULL_ARGUMENT, "uid_new with a NULL out_len");
    CHECK(all_bytes(a, sizeof a, 0xAA) && la == SENT, "nothing written by a failing uid_new");
}

static void binding_hashes(void) {
    char out[64];
    size_t n = SENT;
    CHECK(usersync_binding_hash_len() == 43, "usersync_binding_hash_len() is 43");
    memset(out, 0xAA, sizeof out);
    CHECK_RC(usersync_binding_hash(KNOWN_VALUE, strlen(KNOWN_VALUE), out, usersync_binding_hash_len(), &n),
             USERSYNC_RESULT_OK, "binding_hash of the known value");
    CHECK(n == 43 && memcmp(out, KNOWN_BND, 43) == 0,
          "binding_hash is base64url(SHA-256(value)) without padding");
    CHECK(all_bytes(out + 43, sizeof out - 43, 0xAA), "nothing written past the hash");
    static const char zeros[16] = {0};
    n = SENT;
    CHECK_RC(usersync_binding_hash(zeros, sizeof zeros, out, sizeof out, &n), USERSYNC_RESULT_OK,
             "binding_hash of 16 NUL bytes");
    CHECK(n == 43 && memcmp(out, ZEROS_BND, 43) == 0, "a value may hold NUL bytes");

    static char big[300];
    memset(big, 'v', sizeof big);
    size_t lens[] = {16, 17, 43, 255, 256};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        n = SENT;
        CHECK_RC(usersync_binding_hash(big, lens[i], out, sizeof out, &n), USERSYNC_RESULT_OK,
                 "a binding value of 16 to 256 bytes");
        CHECK(n == 43 && urlsafe(out, n), "43 URL-safe characters");
    }
    size_t bad[] = {0, 1, 15, 257, 300};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(out, 0xAA, sizeof out);
        n = SENT;
        CHECK_RC(usersync_binding_hash(big, bad[i], out, sizeof out, &n), USERSYNC_RESULT_INVALID_ARGUMENT,
                 "a binding value shorter than 16 or longer than 256 bytes");
        CHECK(all_bytes(out, sizeof out, 0xAA) && n == SENT, "nothing written for a bad value");
    }
    memset(out, 0xAA, sizeof out);
    n = SENT;
    CHECK_RC(usersync_binding_hash(KNOWN_VALUE, strlen(KNOWN_VALUE), out, 42, &n),
             USERSYNC_RESULT_BUFFER_TOO_SMALL, "binding_hash into a buffer one byte short");
    CHECK(all_bytes(out, sizeof out, 0xAA) && n == SENT, "nothing written into a short hash buffer");
    CHECK_RC(usersync_binding_hash(NULL, 16, out, sizeof out, &n), USERSYNC_RESULT_NULL_ARGUMENT,
             "binding_hash of NULL with length 16");
    CHECK_RC(usersync_binding_hash(KNOWN_VALUE, strlen(KNOWN_VALUE), NULL, 43, &n),
             USERSYNC_RESULT_NULL_ARGUMENT, "binding_hash with a NULL buffer");
    CHECK_RC(usersync_binding_hash(KNOWN_VALUE, strlen(KNOWN_VALUE), out, sizeof out, NULL),
             USERSYNC_RESULT_NULL_ARGUMENT, "binding_hash with a NULL out_len");
    CHECK_RC(usersync_binding_hash(NULL, 0, out, sizeof out, &n), USERSYNC_RESULT_INVALID_ARGUMENT,
             "binding_hash of an empty value given as NULL, 0");
    CHECK(all_bytes(out, sizeof out, 0xAA) && n == SENT, "nothing written by a failing binding_hash");
}

static void return_urls(const struct world *w) {
    struct { const char *url, *want; } good[] = {
        {"https://a.test/x", "https://a.test/x"},
        {"https://A.test/x?y", "https://a.test/x?y"},
        {"https://a.test", "https://a.test/"},
        {"https://b.test/shop/", "https://b.test/shop/"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char *out = &sentinel;
        size_t len = SENT;
        CHECK_RC(usersync_context_check_return(w->a, good[i].url, strlen(good[i].url), &out, &len),
                 USERSYNC_RESULT_OK, good[i].url);
        int ok = out != &sentinel && len == strlen(good[i].want) && memcmp(out, good[i].want, len) == 0;
        if (!ok && out != &sentinel) {
            fprintf(stderr, "  check_return(%s) gave %.*s, want %s\n", good[i].url, (int)len, out, good[i].want);
        }
        CHECK(ok, "check_return gives the normalised URL");
        if (out != &sentinel) {
            usersync_bytes_free(out, len);
        }
    }
    const char *bad[] = {
        "//evil.test", "javascript:alert(1)", "https://a.test.evil.test/", "http://a.test/x",
        "https://a.test@evil.test/", "https://a.test:8443/", "/x", "x", "", "data:text/html,hi",
        "https://a.test/ x", "https://a.test\\@evil.test/", "https://c.test/", "https://a.test/\x01",
        "https://a.test/\xff",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = &sentinel;
        size_t len = SENT;
        char what[200];
        snprintf(what, sizeof what, "check_return refuses \"%s\"", bad[i]);
        CHECK_RC(usersync_context_check_return(w->a, bad[i], strlen(bad[i]), &out, &len),
                 USERSYNC_RESULT_RETURN_URL_REFUSED, what);
        CHECK(out == &sentinel && len == SENT, "nothing written for a refused URL");
    }
    /* The same rule on b: its own origin and its peer a. */
    char *out = &sentinel;
    size_t len = SENT;
    CHECK_RC(usersync_context_check_return(w->plain.ctx, "https://a.test/x", 16, &out, &len),
             USERSYNC_RESULT_OK, "b accepts its peer a");
    if (out != &sentinel) {
        usersync_bytes_free(out, len);
    }
}

static void null_arguments(const struct world *w) {
    const char *opened = w->plain.opened[DELETE] ? w->plain.opened[DELETE] : "{}";
    const char *facts = "{\"account\":null}";
    size_t ol = strlen(opened), fl = strlen(facts);
    char *out = &sentinel;
    size_t len = SENT;
    CHECK_RC(usersync_context_check_target(w->plain.ctx, opened, ol, facts, fl, &out, &len),
             USERSYNC_RESULT_OK, "the control: delete of an unknown account is skipped");
    if (out != &sentinel) {
        usersync_bytes_free(out, len);
    }
    out = &sentinel;
    len = SENT;
    CHECK_RC(usersync_context_check_target(NULL, opened, ol, facts, fl, &out, &len),
             USERSYNC_RESULT_NULL_ARGUMENT, "check_target with a NULL context");
    CHECK_RC(usersync_context_check_target(w->plain.ctx, NULL, ol, facts, fl, &out, &len),
             USERSYNC_RESULT_NULL_ARGUMENT, "check_target with NULL opened");
    CHECK_RC(usersync_context_check_target(w->plain.ctx, opened, ol, NULL, fl, &out, &len),
             USERSYNC_RESULT_NULL_ARGUMENT, "check_target with NULL facts");
    CHECK_RC(usersync_context_check_target(w->plain.ctx, opened, ol, facts, fl, NULL, &len),
             USERSYNC_RESULT_NULL_ARGUMENT, "check_target with a NULL out");
    CHECK_RC(usersync_context_check_target(w->plain.ctx, opened, ol, facts, fl, &out, NULL),
             USERSYNC_RESULT_NULL_ARGUMENT, "check_target with a NULL out_len");
    CHECK_RC(usersync_context_check_target(w->plain.ctx, NULL, 0, facts, fl, &out, &len),
             USERSYNC_RESULT_DATA_INVALID, "check_target with opened given as NULL, 0");
    CHECK_RC(usersync_context_check_target(w->plain.ctx, opened, ol, NULL, 0, &out, &len),
             USERSYNC_RESULT_DATA_INVALID, "check_target with facts given as NULL, 0");
    CHECK(out == &sentinel && len == SENT, "nothing written by a failing check_target");

    CHECK_RC(usersync_context_check_return(NULL, "https://a.test/", 15, &out, &len),
             USERSYNC_RESULT_NULL_ARGUMENT, "check_return with a NULL context");
    CHECK_RC(usersync_context_check_return(w->a, NULL, 15, &out, &len), USERSYNC_RESULT_NULL_ARGUMENT,
             "check_return with a NULL url of length 15");
    CHECK_RC(usersync_context_check_return(w->a, "https://a.test/", 15, NULL, &len),
             USERSYNC_RESULT_NULL_ARGUMENT, "check_return with a NULL out");
    CHECK_RC(usersync_context_check_return(w->a, "https://a.test/", 15, &out, NULL),
             USERSYNC_RESULT_NULL_ARGUMENT, "check_return with a NULL out_len");
    CHECK_RC(usersync_context_check_return(w->a, NULL, 0, &out, &len), USERSYNC_RESULT_RETURN_URL_REFUSED,
             "check_return of an empty URL given as NULL, 0");
    CHECK(out == &sentinel && len == SENT, "nothing written by a failing check_return");
}

/* tests/vectors/targets.json, when it exists: every case decided exactly so. */
static void target_vectors(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/targets.json", dir);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        printf("note: %s not found; the target-check vectors are skipped until it lands\n", path);
        return;
    }
    fclose(f);
    cJSON *doc = t_load_json(dir, "targets.json");
    char *config = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(doc, "receiver_config"));
    usersync_context *ctx = NULL;
    usersync_result rc = config ? usersync_context_new(config, strlen(config), &ctx, NULL, 0, NULL)
                                : USERSYNC_RESULT_NULL_ARGUMENT;
    CHECK_RC(rc, USERSYNC_RESULT_OK, "the target vectors' receiver configuration loads");
    int cases = 0, good = 0, verdicts = 0, refusals = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "cases")) {
        if (ctx == NULL) {
            break;
        }
        const cJSON *desc = cJSON_GetObjectItemCaseSensitive(c, "desc");
        const cJSON *opened = cJSON_GetObjectItemCaseSensitive(c, "opened");
        const cJSON *facts = cJSON_GetObjectItemCaseSensitive(c, "facts");
        const cJSON *expected = cJSON_GetObjectItemCaseSensitive(c, "expected");
        const cJSON *error = cJSON_GetObjectItemCaseSensitive(c, "error");
        const char *name = cJSON_IsString(desc) ? desc->valuestring : "(no desc)";
        cases++;
        if (opened == NULL || facts == NULL || (expected == NULL) == (error == NULL ||
                                                                        cJSON_IsNull(error))) {
            fprintf(stderr, "target vector \"%s\": needs opened, facts and expected or error\n", name);
            continue;
        }
        char *o = cJSON_PrintUnformatted(opened);
        char *fa = cJSON_PrintUnformatted(facts);
        cJSON *verdict = NULL;
        char *raw = NULL;
        rc = target(ctx, o, strlen(o), fa, strlen(fa), &verdict, &raw);
        int ok;
        if (expected != NULL) {
            verdicts++;
            ok = rc == USERSYNC_RESULT_OK && verdict_equals(verdict, expected);
            if (!ok) {
                char *want = cJSON_PrintUnformatted(expected);
                fprintf(stderr, "target vector \"%s\": got %s %s, want %s\n", name,
                        usersync_result_name((uint32_t)rc), raw ? raw : "", want);
                free(want);
            }
        } else {
            refusals++;
            ok = cJSON_IsString(error) && strcmp(usersync_result_name((uint32_t)rc), error->valuestring) == 0;
            if (!ok) {
                fprintf(stderr, "target vector \"%s\": got %s %s, want %s\n", name,
                        usersync_result_name((uint32_t)rc), raw ? raw : "",
                        cJSON_IsString(error) ? error->valuestring : "(not a string)");
            }
        }
        good += ok;
        free(raw);
        cJSON_Delete(verdict);
        free(o);
        free(fa);
    }
    printf("targets.json: %d of %d cases pass (%d verdicts, %d refusals)\n", good, cases, verdicts,
           refusals);
    CHECK(cases > 0 && verdicts > 0 && refusals > 0, "targets.json has verdicts and refusals");
    CHECK(good == cases, "every target vector decided as expected");
    usersync_context_free(ctx);
    free(config);
    cJSON_Delete(doc);
}

/* Hashes real WordPress 6.8/6.1 and Django made, with their own verdicts; and the refusals. */
static void password_vectors(const char *dir) {
    static const char *files[] = {"passwords-wordpress-6.8.json", "passwords-wordpress-6.1.json",
                                  "passwords-django.json"};
    int cases = 0, same = 0, matched = 0;
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        cJSON *v = t_load_json(dir, files[f]);
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(v, "cases")) {
            const char *password = cJSON_GetObjectItemCaseSensitive(c, "password")->valuestring;
            const char *hash = cJSON_GetObjectItemCaseSensitive(c, "hash")->valuestring;
            int want = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "matches"));
            usersync_result rc = usersync_password_verify(password, strlen(password), hash, strlen(hash));
            same += rc == (want ? USERSYNC_RESULT_OK : USERSYNC_RESULT_PASSWORD_MISMATCH);
            matched += want;
            cases++;
        }
        cJSON_Delete(v);
    }
    CHECK(cases >= 50 && matched >= 20 && same == cases, "password checks answer as the hosts that made the hashes");
    const char *argon = "$argon2id$v=19$m=65536,t=4,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
    CHECK_RC(usersync_password_verify("x", 1, argon, strlen(argon)), USERSYNC_RESULT_PASS_HASH_FORMAT,
             "argon2 cannot be checked here");
    CHECK_RC(usersync_password_verify(NULL, 1, "$P$", 3), USERSYNC_RESULT_NULL_ARGUMENT, "NULL password");
    CHECK_RC(usersync_password_verify("", 0, "", 0), USERSYNC_RESULT_PASS_HASH_FORMAT, "empty hash");
}

void test_identity(const char *dir) {
    struct world w;
    world_open(&w);
    protected_accounts(&w);
    no_account(&w);
    logout_sessions(&w);
    ticket_bindings(&w);
    malformed(&w);
    uids(&w);
    binding_hashes();
    return_urls(&w);
    null_arguments(&w);
    world_close(&w);
    target_vectors(dir);
    password_vectors(dir);
    CHECK(touch_checked > 0 && touched == 0, "no failing target check wrote an output");
}
