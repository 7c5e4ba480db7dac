/*  harness.h - a tiny test runner and process helpers for the C tests */

#ifndef HARNESS_H_INCLUDED
#define HARNESS_H_INCLUDED

#include <zccp.h>
#include <sys/types.h>

extern int h_failures;          //  checks failed in the current test

#define CHECK(cond) do { if (!(cond)) { \
    printf ("    FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); h_failures++; } } while (0)
#define CHECK_STR(got, want) do { const char *g_ = (got), *w_ = (want); \
    if (!g_ || strcmp (g_, w_)) { printf ("    FAIL %s:%d: %s is \"%s\", want \"%s\"\n", \
        __FILE__, __LINE__, #got, g_? g_: "(null)", w_); h_failures++; } } while (0)
//  Stop the test here when a check it depends on failed
#define REQUIRE(cond) do { if (!(cond)) { \
    printf ("    FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); h_failures++; return; } } while (0)

typedef struct {
    const char *name;
    void (*fn) (void);
} h_test_t;

//  Runs the tests whose name contains filter (NULL: all); prints one line
//  per test and "N passed, N failed"; returns the number failed.
int h_run (h_test_t *tests, const char *filter);

//  A zccpd of our own: tcp on a free port of 127.0.0.1 and a unique
//  abstract ipc name; extra flags (NULL-terminated) are passed on.
typedef struct {
    pid_t pid;
    int port;
    char tcp [64];
    char ipc [96];
    char log [256];
} h_broker_t;

int  h_broker_start (h_broker_t *b, const char **flags);
int  h_free_port (void);        //  a tcp port of 127.0.0.1 free a moment ago
int  h_broker_restart (h_broker_t *b, const char **flags);    //  same endpoints
void h_broker_kill (h_broker_t *b, int sig);

//  Processes: argv[0] is a path; env entries "K=V" (NULL-terminated, may be
//  NULL) are added; stdout/stderr go to out (NULL: inherited).
pid_t h_spawn (char *const argv [], const char **env, const char *out);
//  Exit code of pid within timeout msecs (signalled: 128+sig), -1 timeout
//  (the process is then killed).
int   h_wait (pid_t pid, int timeout);
//  Runs a shell command line; its exit code, stdout in out (size bytes).
int   h_capture (const char *command, char *out, size_t size);
//  True once the file contains text (within timeout msecs).
bool  h_file_has (const char *path, const char *text, int timeout);

//  A prefix for running C programs (valgrind), from $ZCCP_WRAP: its words.
int   h_wrap (const char **argv, int max);

//  A client with an identifier, connected (NULL on failure).
zccp_client_t *h_client (const char *endpoint, const char *identifier);

//  Paths from the environment (set by run.sh).
const char *h_env (const char *name);

#endif
