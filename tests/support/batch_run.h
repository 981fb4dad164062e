/* Batch mode as the tests drive it: parse argv, run ls_batch_run with stdout discarded and
 * stderr captured, read a JSON result back. Shared by the tests of every batch feature. */
#ifndef LS_TEST_BATCH_RUN_H
#define LS_TEST_BATCH_RUN_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* The batch exit status (2 when the options do not parse); errbuf gets what batch mode wrote
 * on stderr, or the option error, truncated to cap - 1 bytes. */
int ls_test_run_batch(int argc, char **argv, char *errbuf, size_t cap);

/* The parsed JSON document in path (up to 64 MiB), or NULL when unreadable or malformed. */
cJSON *ls_test_read_json(const char *path);

#endif
