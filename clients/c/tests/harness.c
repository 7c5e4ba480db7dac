/*  harness.c - test runner and process helpers */

#include "harness.h"
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

int h_failures = 0;

int
h_run (h_test_t *tests, const char *filter)
{
    int passed = 0, failed = 0;
    for (h_test_t *t = tests; t->name; t++) {
        if (filter && !strstr (t->name, filter))
            continue;
        h_failures = 0;
        int64_t start = zclock_mono ();
        printf ("=== %s\n", t->name);
        fflush (stdout);
        t->fn ();
        printf ("%s %s (%.1f s)\n", h_failures? "FAIL": "ok  ", t->name,
                (zclock_mono () - start) / 1000.0);
        fflush (stdout);
        if (h_failures)
            failed++;
        else
            passed++;
    }
    printf ("%d passed, %d failed\n", passed, failed);
    return failed;
}

const char *
h_env (const char *name)
{
    const char *v = getenv (name);
    if (!v) {
        fprintf (stderr, "harness: $%s is not set (run tests/run.sh)\n", name);
        exit (2);
    }
    return v;
}

int
h_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (fd < 0 || bind (fd, (struct sockaddr *) &a, sizeof a) || getsockname (fd, (struct sockaddr *) &a, &len))
        return -1;
    close (fd);
    return ntohs (a.sin_port);
}

static bool
s_port_open (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons (port),
                             .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    bool ok = fd >= 0 && connect (fd, (struct sockaddr *) &a, sizeof a) == 0;
    if (fd >= 0)
        close (fd);
    return ok;
}

int
h_broker_restart (h_broker_t *b, const char **flags)
{
    const char *argv [32] = { h_env ("ZCCPD"), "--bind", b->tcp, "--bind", b->ipc,
                              "--log-level", "debug" };
    int n = 7;
    for (; flags && *flags && n < 30; flags++)
        argv [n++] = *flags;
    argv [n] = NULL;
    b->pid = h_spawn ((char *const *) argv, NULL, b->log);
    //  Ready when the tcp port accepts (bounded)
    for (int i = 0; i < 200; i++) {
        if (s_port_open (b->port))
            return 0;
        zclock_sleep (50);
    }
    return -1;
}

int
h_broker_start (h_broker_t *b, const char **flags)
{
    static int count = 0;
    b->port = h_free_port ();
    snprintf (b->tcp, sizeof b->tcp, "tcp://127.0.0.1:%d", b->port);
    snprintf (b->ipc, sizeof b->ipc, "ipc://@/zccp-ctest-%d-%d", getpid (), ++count);
    snprintf (b->log, sizeof b->log, "%s/zccpd-%d.log", h_env ("ZCCP_TESTDIR"), count);
    return h_broker_restart (b, flags);
}

void
h_broker_kill (h_broker_t *b, int sig)
{
    if (b->pid > 0) {
        kill (b->pid, sig);
        h_wait (b->pid, 10000);
        b->pid = 0;
    }
}

pid_t
h_spawn (char *const argv [], const char **env, const char *out)
{
    fflush (stdout);
    pid_t pid = fork ();
    assert (pid >= 0);
    if (pid == 0) {
        //  If the test program dies (a crash, an abort), its brokers and
        //  devices die with it instead of lingering
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        for (; env && *env; env++)
            putenv ((char *) *env);
        if (out) {
            int fd = open (out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            dup2 (fd, 1);
            dup2 (fd, 2);
            close (fd);
        }
        execv (argv [0], argv);
        _exit (127);
    }
    return pid;
}

int
h_wait (pid_t pid, int timeout)
{
    int64_t deadline = zclock_mono () + timeout;
    int status;
    while (zclock_mono () < deadline) {
        pid_t r = waitpid (pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED (status)? WEXITSTATUS (status): 128 + WTERMSIG (status);
        zclock_sleep (20);
    }
    kill (pid, SIGKILL);
    waitpid (pid, &status, 0);
    return -1;
}

int
h_capture (const char *command, char *out, size_t size)
{
    FILE *f = popen (command, "r");
    if (!f)
        return -1;
    size_t n = fread (out, 1, size - 1, f);
    out [n] = 0;
    int status = pclose (f);
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

bool
h_file_has (const char *path, const char *text, int timeout)
{
    int64_t deadline = zclock_mono () + timeout;
    do {
        FILE *f = fopen (path, "r");
        if (f) {
            char buf [8192];
            size_t n = fread (buf, 1, sizeof buf - 1, f);
            buf [n] = 0;
            fclose (f);
            if (strstr (buf, text))
                return true;
        }
        zclock_sleep (50);
    } while (zclock_mono () < deadline);
    return false;
}

int
h_wrap (const char **argv, int max)
{
    static char buf [512];
    const char *wrap = getenv ("ZCCP_WRAP");
    int n = 0;
    if (!wrap || !*wrap)
        return 0;
    snprintf (buf, sizeof buf, "%s", wrap);
    for (char *w = strtok (buf, " "); w && n < max; w = strtok (NULL, " "))
        argv [n++] = w;
    return n;
}

zccp_client_t *
h_client (const char *endpoint, const char *identifier)
{
    zccp_client_t *c = zccp_client_new ();
    if (identifier)
        zccp_client_set_identifier (c, identifier);
    if (zccp_client_connect (c, endpoint, 20000)) {
        printf ("    connect %s as %s: %s\n", endpoint, identifier? identifier: "(anonymous)",
                zccp_client_reason (c));
        zccp_client_destroy (&c);
    }
    return c;
}
