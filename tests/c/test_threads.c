/* One keyring shared by threads: it is immutable, so concurrent seal/open must just work. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 4, ROUNDS = 500 };

static void *worker(void *arg) {
    const usersync_keyring *ring = arg;
    long failures = 0;
    char pt[100];
    for (int i = 0; i < ROUNDS; i++) {
        int len = snprintf(pt, sizeof pt, "message %d from a thread", i);
        char *text = NULL, *back = NULL;
        size_t text_len = 0, back_len = 0;
        if (t_seal(ring, "t", 1, pt, (size_t)len, &text, &text_len) != USERSYNC_RESULT_OK ||
            t_open(ring, "t", 1, text, text_len, &back, &back_len) != USERSYNC_RESULT_OK ||
            back_len != (size_t)len || memcmp(back, pt, back_len) != 0) {
            failures++;
        }
        free(text);
        free(back);
    }
    return (void *)failures;
}

void test_threads(void) {
    usersync_keyring *ring = t_ring(t_secret(5), 0);
    pthread_t threads[THREADS];
    long failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_create(&threads[i], NULL, worker, ring);
    }
    for (int i = 0; i < THREADS; i++) {
        void *result = NULL;
        pthread_join(threads[i], &result);
        failures += (long)result;
    }
    CHECK(failures == 0, "4 threads × 500 seal/open rounds on one shared keyring");
    usersync_keyring_free(ring);
}
