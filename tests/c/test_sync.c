/* The initial sync through the C ABI (docs/protocol.md §18): every case of
 * tests/vectors/sync.json answered with exactly its outcomes or refusal; a probe and a batch
 * built, opened and answered between two sites; outputs written only on success. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

static void sync_vectors(const char *dir) {
    cJSON *doc = t_load_json(dir, "sync.json");
    char *config = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(doc, "receiver_config"));
    usersync_context *ctx = NULL;
    CHECK_RC(usersync_context_new(config, strlen(config), &ctx, NULL, 0, NULL), USERSYNC_RESULT_OK,
             "the sync vectors' receiver configuration loads");
    int cases = 0, good = 0, outcomes = 0, refusals = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "cases")) {
        if (ctx == NULL) {
            break;
        }
        const cJSON *desc = cJSON_GetObjectItemCaseSensitive(c, "desc");
        const cJSON *expected = cJSON_GetObjectItemCaseSensitive(c, "expected");
        const cJSON *error = cJSON_GetObjectItemCaseSensitive(c, "error");
        char *o = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "opened"));
        char *f = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "facts"));
        char *out = (char *)&cases; /* a sentinel: must stay unless the call succeeds */
        size_t len = 7;
        usersync_result rc = usersync_context_sync_answer(ctx, o, strlen(o), f, strlen(f), &out, &len);
        int ok = 0;
        if (expected != NULL) {
            outcomes++;
            cJSON *got = rc == USERSYNC_RESULT_OK ? cJSON_ParseWithLength(out, len) : NULL;
            const cJSON *message = cJSON_GetObjectItemCaseSensitive(got, "message");
            ok = got != NULL && cJSON_Compare(cJSON_GetObjectItemCaseSensitive(got, "results"), expected, 1) &&
                 cJSON_IsString(message) && strlen(message->valuestring) > 73;
            cJSON_Delete(got);
        } else {
            refusals++;
            ok = cJSON_IsString(error) && strcmp(usersync_result_name((uint32_t)rc), error->valuestring) == 0 &&
                 out == (char *)&cases && len == 7;
        }
        if (!ok) {
            fprintf(stderr, "sync vector \"%s\": got %s\n", cJSON_IsString(desc) ? desc->valuestring : "?",
                    usersync_result_name((uint32_t)rc));
        }
        if (rc == USERSYNC_RESULT_OK) {
            usersync_bytes_free(out, len);
        }
        good += ok;
        cases++;
        free(o);
        free(f);
    }
    printf("sync.json: %d of %d cases pass (%d outcomes, %d refusals)\n", good, cases, outcomes, refusals);
    CHECK(cases >= 30 && outcomes > 0 && refusals > 0, "sync.json has outcomes and refusals");
    CHECK(good == cases, "every sync vector answered as expected");
    usersync_context_free(ctx);
    free(config);
    cJSON_Delete(doc);
}

static usersync_context *site(const char *id, const char *peer, const char *secret, const char *policy) {
    char config[1024];
    snprintf(config, sizeof config,
             "{\"site_id\":\"%s\",\"url\":\"https://%s\",\"peers\":[{\"id\":\"%s\",\"url\":\"https://%s\","
             "\"secrets\":[\"%s\"],%s}]}",
             id, id, peer, peer, secret, policy);
    usersync_context *ctx = NULL;
    CHECK_RC(usersync_context_new(config, strlen(config), &ctx, NULL, 0, NULL), USERSYNC_RESULT_OK, "a site loads");
    return ctx;
}

/* The JSON a call left in *out (read after the call: arguments have no evaluation order). */
static cJSON *call_json(usersync_result rc, char **out, size_t *len) {
    cJSON *v = rc == USERSYNC_RESULT_OK ? cJSON_ParseWithLength(*out, *len) : NULL;
    if (rc == USERSYNC_RESULT_OK) {
        usersync_bytes_free(*out, *len);
    }
    return v;
}

/* A's probe opened by B, B's answer opened by A; a batch likewise. */
static void round_trip(void) {
    const char *s = t_secret(6);
    usersync_context *a = site("a.test", "b.test", s,
                               "\"send\":{\"actions\":[\"create\",\"password\"],\"roles\":[\"subscriber\"]}");
    usersync_context *b = site("b.test", "a.test", s,
                               "\"accept\":{\"actions\":[\"create\",\"password\"],\"roles\":[\"subscriber\"]}");
    const char *accounts = "[{\"login\":\"ann\",\"email\":\"ann@x.test\",\"roles\":[\"subscriber\"]},"
                           "{\"login\":\"root\",\"email\":\"root@x.test\",\"roles\":[\"administrator\"]}]";
    char *out = NULL;
    size_t len = 0;
    cJSON *probe = call_json(usersync_context_sync_probe(a, "b.test", 6, accounts, strlen(accounts), &out, &len), &out, &len);
    CHECK(probe != NULL, "A builds a probe");
    cJSON *local = cJSON_GetObjectItemCaseSensitive(probe, "local");
    CHECK(cJSON_GetArraySize(local) == 2 &&
              strcmp(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(local, 1), "reason")->valuestring,
                     "privileged_not_sent") == 0,
          "A's administrator is not offered");
    const char *msg = cJSON_GetObjectItemCaseSensitive(probe, "message")->valuestring;
    cJSON *opened = call_json(usersync_context_open_action(b, msg, strlen(msg), NULL, 0, &out, &len), &out, &len);
    CHECK(opened != NULL && strcmp(cJSON_GetObjectItemCaseSensitive(opened, "act")->valuestring, "probe") == 0,
          "B opens the probe");
    char *o = cJSON_PrintUnformatted(opened);
    const char *facts = "{\"accounts\":[{\"linked\":null,\"by_login\":{\"id\":4,\"roles\":[\"subscriber\"]},"
                        "\"by_email\":{\"id\":4,\"roles\":[\"subscriber\"]}}]}";
    cJSON *answer = call_json(usersync_context_sync_answer(b, o, strlen(o), facts, strlen(facts), &out, &len), &out, &len);
    CHECK(answer != NULL, "B answers");
    const char *reply = cJSON_GetObjectItemCaseSensitive(answer, "message")->valuestring;
    cJSON *back = call_json(usersync_context_open_action(a, reply, strlen(reply), NULL, 0, &out, &len), &out, &len);
    cJSON *data = cJSON_GetObjectItemCaseSensitive(back, "data");
    CHECK(back != NULL && strcmp(cJSON_GetObjectItemCaseSensitive(data, "to")->valuestring,
                                 cJSON_GetObjectItemCaseSensitive(probe, "jti")->valuestring) == 0,
          "A opens the answer to its own probe");
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(data, "results"), 0),
                                                  "do")->valuestring, "link") == 0,
          "the matching account is to be linked");
    /* Wrong facts: refused, nothing written. */
    out = (char *)&len;
    len = 3;
    CHECK_RC(usersync_context_sync_answer(b, o, strlen(o), "{\"accounts\":[]}", 15, &out, &len),
             USERSYNC_RESULT_DATA_INVALID, "facts for no account are refused");
    CHECK(out == (char *)&len && len == 3, "nothing written by a refused answer");
    CHECK_RC(usersync_context_sync_batch(a, "b.test", 6, "[]", 2, &out, &len), USERSYNC_RESULT_INVALID_ARGUMENT,
             "an empty batch is refused");
    CHECK_RC(usersync_context_sync_probe(b, "a.test", 6, accounts, strlen(accounts), &out, &len),
             USERSYNC_RESULT_ACTION_NOT_SENT, "a site that sends no creates cannot probe");
    CHECK_RC(usersync_context_sync_probe(NULL, "a.test", 6, accounts, strlen(accounts), &out, &len),
             USERSYNC_RESULT_NULL_ARGUMENT, "NULL context");
    CHECK_RC(usersync_context_sync_answer(b, o, strlen(o), facts, strlen(facts), NULL, &len),
             USERSYNC_RESULT_NULL_ARGUMENT, "NULL out");
    free(o);
    cJSON_Delete(probe);
    cJSON_Delete(opened);
    cJSON_Delete(answer);
    cJSON_Delete(back);
    usersync_context_free(a);
    usersync_context_free(b);
}

void test_sync(const char *dir) {
    sync_vectors(dir);
    round_trip();
}
