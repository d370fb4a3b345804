/* Link secrets and keyrings built from them. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

void test_secret(void) {
    char a[64], b[64];
    size_t na = 0, nb = 0;
    CHECK_RC(usersync_secret_generate(a, sizeof a, &na), USERSYNC_RESULT_OK, "generate");
    CHECK_RC(usersync_secret_generate(b, sizeof b, &nb), USERSYNC_RESULT_OK, "generate again");
    CHECK(na == usersync_secret_text_len() && na == 48, "a secret is 48 characters");
    CHECK(memcmp(a, "usk1_", 5) == 0, "a secret starts with usk1_");
    CHECK(memcmp(a, b, na) != 0, "two secrets differ");
    CHECK_RC(usersync_secret_check(a, na), USERSYNC_RESULT_OK, "a generated secret checks");

    char bad[64];
    memcpy(bad, a, na);
    bad[3] = '2';
    CHECK_RC(usersync_secret_check(bad, na), USERSYNC_RESULT_SECRET_PREFIX, "usk2_ prefix");
    CHECK_RC(usersync_secret_check(a, na - 1), USERSYNC_RESULT_SECRET_LENGTH, "short secret");
    memcpy(bad, a, na);
    bad[na] = 'A';
    CHECK_RC(usersync_secret_check(bad, na + 1), USERSYNC_RESULT_SECRET_LENGTH, "long secret");
    memcpy(bad, a, na);
    bad[10] = '=';
    CHECK_RC(usersync_secret_check(bad, na), USERSYNC_RESULT_SECRET_ENCODING, "'=' inside");
    const char *zero = "usk1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    CHECK_RC(usersync_secret_check(zero, strlen(zero)), USERSYNC_RESULT_SECRET_ALL_ZERO,
             "all-zero secret");

    /* Keyrings: 1-3 secrets, no duplicates. */
    char list[512];
    usersync_keyring *ring = NULL;
    CHECK_RC(usersync_keyring_new("", 0, 0, &ring), USERSYNC_RESULT_NO_SECRETS,
             "an empty list is refused");
    snprintf(list, sizeof list, "%s,%s", t_secret(1), t_secret(1));
    CHECK_RC(usersync_keyring_new(list, strlen(list), 0, &ring), USERSYNC_RESULT_DUPLICATE_SECRET,
             "the same secret twice");
    snprintf(list, sizeof list, "%s", t_secret(1));
    snprintf(list + strlen(list), sizeof list - strlen(list), ",%s", t_secret(2));
    snprintf(list + strlen(list), sizeof list - strlen(list), ", %s", t_secret(3));
    CHECK_RC(usersync_keyring_new(list, strlen(list), 0, &ring), USERSYNC_RESULT_OK,
             "three secrets");
    usersync_keyring_free(ring);
    ring = NULL;
    snprintf(list + strlen(list), sizeof list - strlen(list), ",%s", t_secret(4));
    CHECK_RC(usersync_keyring_new(list, strlen(list), 0, &ring),
             USERSYNC_RESULT_TOO_MANY_SECRETS, "four secrets");
    CHECK(ring == NULL, "no keyring on failure");
    snprintf(list, sizeof list, "%s,usk1_short", t_secret(1));
    CHECK_RC(usersync_keyring_new(list, strlen(list), 0, &ring), USERSYNC_RESULT_SECRET_LENGTH,
             "a bad second secret is named by its reason");
}
