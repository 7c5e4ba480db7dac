/*  zccp_test.c - libzccp against a real zccpd (built from this repository),
    with Go peers (zccp device, zccp call) and the original-API programs.
    Run by tests/run.sh (under valgrind); zccp_test [FILTER] runs the
    tests whose name contains FILTER. */

#include "harness.h"
#include "fake_broker.h"
#include <signal.h>

static h_broker_t broker;       //  default settings
static h_broker_t brisk;        //  --timeout 1500ms --ping-interval 250ms

//  ---------------------------------------------------------------------
//  Helpers

//  The next message within timeout msecs, skipping none.
static bool
s_recv (zccp_client_t *c, int timeout)
{
    return zccp_client_wait (c, timeout) == 0;
}

static char *
s_frame (zmsg_t *msg, size_t index)
{
    zframe_t *f = zmsg_first (msg);
    for (size_t i = 0; f && i < index; i++)
        f = zmsg_next (msg);
    return f? zframe_strdup (f): NULL;
}

//  A C device on its own thread: a zactor that serves requests through
//  the documented poll contract (zpoller on zccp_client_actor).
typedef struct {
    const char *endpoint;
    const char *id;
    const char *label;          //  "name=value" or NULL
    const char *subscribe;      //  joins groups, or NULL
    const char *method;         //  NULL: every method
    zccp_handler_fn *fn;
} device_t;

static void
s_device_actor (zsock_t *pipe, void *args)
{
    device_t *d = (device_t *) args;
    zccp_client_t *c = zccp_client_new ();
    zccp_client_set_identifier (c, d->id);
    if (d->label) {
        char name [64];
        const char *eq = strchr (d->label, '=');
        snprintf (name, sizeof name, "%.*s", (int) (eq - d->label), d->label);
        zccp_client_set_label (c, name, eq + 1);
    }
    zccp_client_handle (c, d->method, d->fn, (void *) d);
    zsock_signal (pipe, 0);
    int rc = zccp_client_connect (c, d->endpoint, 20000);
    if (rc == 0 && d->subscribe)
        rc = zccp_client_subscribe (c, d->subscribe);
    zstr_send (pipe, rc == 0? "ready": zccp_client_reason (c));
    zpoller_t *poller = zpoller_new (pipe, zccp_client_actor (c), NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool stop = !command || streq (command, "$TERM");
            if (!stop && streq (command, "SESSIONS"))
                zsock_send (pipe, "8", zccp_client_sessions (c));
            zstr_free (&command);
            if (stop)
                break;
        }
        else
        if (which)
            zccp_client_wait (c, 0);
        else
        if (zpoller_terminated (poller))
            break;
    }
    zpoller_destroy (&poller);
    zccp_client_destroy (&c);
}

static zactor_t *
s_device_start (device_t *d)
{
    zactor_t *actor = zactor_new (s_device_actor, d);
    char *ready = zstr_recv (actor);
    bool ok = ready && streq (ready, "ready");
    if (!ok)
        printf ("    device %s: %s\n", d->id, ready? ready: "?");
    zstr_free (&ready);
    if (!ok)
        zactor_destroy (&actor);
    return actor;
}

static uint64_t
s_device_sessions (zactor_t *device)
{
    uint64_t sessions = 0;
    zstr_send (device, "SESSIONS");
    zsock_recv (device, "8", &sessions);
    return sessions;
}

static int
s_upper (zccp_request_t *r, void *arg)
{
    char *text = s_frame (zccp_request_content (r), 0);
    for (char *p = text; p && *p; p++)
        *p = (char) toupper ((unsigned char) *p);
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, text? text: "");
    zmsg_addstr (reply, zccp_request_method (r));
    zstr_free (&text);
    zccp_request_reply (r, &reply);
    return 0;
}

static int
s_status (zccp_request_t *r, void *arg)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_addstrf (reply, "status of %s", ((device_t *) arg)->id);
    zccp_request_reply (r, &reply);
    return 0;
}

static int
s_busy (zccp_request_t *r, void *arg)
{
    zccp_request_fail (r, "busy", "rack 13 is busy");
    return 0;
}

//  Counts its runs (one device at a time): answers "run N".
static int s_runs;

static int
s_count (zccp_request_t *r, void *arg)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_addstrf (reply, "run %d", ++s_runs);
    zccp_request_reply (r, &reply);
    return 0;
}

//  Slower than the brisk broker's timeout (1.5 s): the session must survive.
static int
s_slow (zccp_request_t *r, void *arg)
{
    zclock_sleep (2500);
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "done");
    zccp_request_reply (r, &reply);
    return 0;
}

//  Starts a Go `zccp device` (echo: cat) and returns its pid.
static pid_t
s_go_device (const char *endpoint, const char *id, const char *label, const char *subscribe)
{
    char log [256];
    snprintf (log, sizeof log, "%s/go-device-%s.log", h_env ("ZCCP_TESTDIR"), id);
    const char *argv [] = { h_env ("ZCCP_CLI"), "device", "--endpoint", endpoint, "--id", id,
                            "--label", label, "--subscribe", subscribe, "--", "/bin/cat", NULL };
    return h_spawn ((char *const *) argv, NULL, log);
}

//  Starts `python3 -m zccp device` (the Python client's echo device).
static pid_t
s_python_device (const char *endpoint, const char *id)
{
    static char pythonpath [512];
    char log [256];
    snprintf (pythonpath, sizeof pythonpath, "PYTHONPATH=%s", h_env ("ZCCP_PYTHONPATH"));
    snprintf (log, sizeof log, "%s/python-device-%s.log", h_env ("ZCCP_TESTDIR"), id);
    const char *env [] = { pythonpath, NULL };
    const char *argv [] = { h_env ("ZCCP_PYTHON"), "-m", "zccp", "device", "--endpoint", endpoint,
                            "--id", id, NULL };
    return h_spawn ((char *const *) argv, env, log);
}

//  Waits (bounded) until identifier answers a request.
static bool
s_reachable (zccp_client_t *c, const char *identifier)
{
    for (int i = 0; i < 100; i++) {
        if (zccp_client_request (c, identifier, "ping", NULL, NULL, 2000) == 0)
            return true;
        if (!streq (zccp_client_error (c), "no-such-client"))
            return false;
        zclock_sleep (50);
    }
    return false;
}

//  ---------------------------------------------------------------------
//  Tests

static void
test_pubsub_headers_frames (void)
{
    zccp_client_t *sub = h_client (broker.tcp, "ps-sub");
    if (sub && getenv ("ZCCP_VERBOSE"))
        zccp_client_verbose (sub);
    zccp_client_t *pub = h_client (broker.ipc, "ps-pub");
    REQUIRE (sub && pub);
    CHECK (zccp_client_subscribe (sub, "^sensor\\.") == 0);
    //  A refused expression is the failure of that call, with the code
    CHECK (zccp_client_subscribe (sub, "(a*)*") == -1);
    CHECK_STR (zccp_client_error (sub), "bad-expression");
    CHECK (*zccp_client_reason (sub));

    zhash_t *headers = zhash_new ();
    zhash_insert (headers, "unit", "W");
    zhash_insert (headers, "site", "rack 12");
    zmsg_t *content = zmsg_new ();
    zmsg_addstr (content, "4120");
    zmsg_addmem (content, "", 0);
    zmsg_addmem (content, "a\0b", 3);
    CHECK (zccp_client_publish_msg (pub, "sensor.power", headers, &content) == 0);
    CHECK (content == NULL);
    zhash_destroy (&headers);
    //  No content frames at all (the original client aborted on these)
    CHECK (zccp_client_publish_msg (pub, "sensor.empty", NULL, NULL) == 0);

    REQUIRE (s_recv (sub, 5000));
    CHECK (zccp_client_status (sub) == 0);
    CHECK_STR (zccp_client_sender (sub), "ps-pub");
    CHECK_STR (zccp_client_address (sub), "sensor.power");
    CHECK_STR (zccp_client_header (sub, "unit"), "W");
    CHECK_STR (zccp_client_header (sub, "site"), "rack 12");
    CHECK (zccp_client_header_count (sub) == 2);
    zmsg_t *body = zccp_client_body (sub);
    REQUIRE (body && zmsg_size (body) == 3);
    CHECK_STR (zccp_client_content (sub), "4120");
    CHECK (zframe_size (zmsg_next (body)) == 0);
    zframe_t *third = zmsg_next (body);
    CHECK (zframe_size (third) == 3 && memcmp (zframe_data (third), "a\0b", 3) == 0);

    REQUIRE (s_recv (sub, 5000));
    CHECK_STR (zccp_client_address (sub), "sensor.empty");
    CHECK (zmsg_size (zccp_client_body (sub)) == 0);
    CHECK_STR (zccp_client_content (sub), "");
    //  Too long an address is refused before the wire
    char longer [300];
    memset (longer, 'x', sizeof longer - 1);
    longer [sizeof longer - 1] = 0;
    CHECK (zccp_client_publish (pub, longer, "x") == -1);
    CHECK_STR (zccp_client_error (pub), "invalid-argument");
    zccp_client_destroy (&pub);
    zccp_client_destroy (&sub);
}

static void
test_once_only_delivery (void)
{
    zccp_client_t *sub = h_client (broker.ipc, "once-sub");
    zccp_client_t *pub = h_client (broker.tcp, "once-pub");
    REQUIRE (sub && pub);
    CHECK (zccp_client_subscribe (sub, "H.*O") == 0);
    CHECK (zccp_client_subscribe (sub, "H.*O") == 0);
    CHECK (zccp_client_subscribe (sub, "HELLO") == 0);
    CHECK (zccp_client_subscribe (sub, "^\\(HELLO") == 0);
    CHECK (zccp_client_subscribe (sub, "^marker$") == 0);
    CHECK (zccp_client_publish (pub, "(HELLO, WORLD)", "TEST") == 0);
    CHECK (zccp_client_publish (pub, "marker", "END") == 0);
    REQUIRE (s_recv (sub, 5000));
    CHECK_STR (zccp_client_content (sub), "TEST");
    CHECK_STR (zccp_client_address (sub), "(HELLO, WORLD)");
    CHECK_STR (zccp_client_sender (sub), "once-pub");
    //  Order is kept between one publisher and one subscriber: a duplicate
    //  would come before the marker
    REQUIRE (s_recv (sub, 5000));
    CHECK_STR (zccp_client_content (sub), "END");
    //  A cancelled expression no longer matches; the others still do
    CHECK (zccp_client_unsubscribe (sub, "HELLO") == 0);
    CHECK (zccp_client_unsubscribe (sub, "H.*O") == 0);
    CHECK (zccp_client_unsubscribe (sub, "^\\(HELLO") == 0);
    CHECK (zccp_client_publish (pub, "(HELLO, AGAIN)", "GONE") == 0);
    CHECK (zccp_client_publish (pub, "marker", "END2") == 0);
    REQUIRE (s_recv (sub, 5000));
    CHECK_STR (zccp_client_content (sub), "END2");
    zccp_client_destroy (&pub);
    zccp_client_destroy (&sub);
}

static void
test_direct (void)
{
    zccp_client_t *a = h_client (broker.ipc, "direct-a");
    zccp_client_t *b = h_client (broker.tcp, "direct-b");
    REQUIRE (a && b);
    zhash_t *headers = zhash_new ();
    zhash_insert (headers, "kind", "note");
    zmsg_t *content = zmsg_new ();
    zmsg_addstr (content, "one");
    zmsg_addstr (content, "two");
    CHECK (zccp_client_direct (a, "direct-b", headers, &content) == 0);
    zhash_destroy (&headers);
    REQUIRE (s_recv (b, 5000));
    CHECK_STR (zccp_client_sender (b), "direct-a");
    CHECK_STR (zccp_client_address (b), "direct-b");
    CHECK_STR (zccp_client_header (b, "kind"), "note");
    CHECK (zmsg_size (zccp_client_body (b)) == 2);
    //  To nobody: the broker's notice comes back as an error
    CHECK (zccp_client_direct (a, "nobody-here", NULL, NULL) == 0);
    REQUIRE (s_recv (a, 5000));
    CHECK (zccp_client_status (a) == -1);
    CHECK_STR (zccp_client_error (a), "no-such-client");
    CHECK_STR (zccp_client_sender (a), "$zccp");
    zccp_client_destroy (&a);
    zccp_client_destroy (&b);
}

static void
test_c_requester_go_device (void)
{
    pid_t dev = s_go_device (broker.tcp, "go-echo", "kind=echo", "^echo$");
    zccp_client_t *c = h_client (broker.ipc, "c-requester");
    REQUIRE (c);
    CHECK (s_reachable (c, "go-echo"));
    zmsg_t *content = zmsg_new ();
    zmsg_addstr (content, "hello ");
    zmsg_addstr (content, "device");
    CHECK (zccp_client_request (c, "go-echo", "echo", NULL, &content, 5000) == 0);
    CHECK_STR (zccp_client_content (c), "hello device");
    CHECK_STR (zccp_client_sender (c), "go-echo");
    CHECK_STR (zccp_client_header (c, "zccp-status"), "ok");
    //  No such device: failed at once, with the broker's code
    CHECK (zccp_client_request (c, "no-such-device", "echo", NULL, NULL, 5000) == -1);
    CHECK_STR (zccp_client_error (c), "no-such-client");
    zccp_client_destroy (&c);
    kill (dev, SIGTERM);
    CHECK (h_wait (dev, 10000) == 0);
}

static void
test_go_call_c_device (void)
{
    device_t d = { broker.ipc, "c-upper", "kind=upper", NULL, "upper", s_upper };
    zactor_t *device = s_device_start (&d);
    REQUIRE (device);
    char command [512], out [1024];
    snprintf (command, sizeof command, "%s call --endpoint %s --timeout 10s c-upper upper 'hello from go' 2>&1",
              h_env ("ZCCP_CLI"), broker.tcp);
    CHECK (h_capture (command, out, sizeof out) == 0);
    CHECK (strstr (out, "HELLO FROM GO") != NULL);
    //  A method the device does not serve: no-such-method, exit 6
    snprintf (command, sizeof command, "%s call --endpoint %s --timeout 10s c-upper other x 2>&1",
              h_env ("ZCCP_CLI"), broker.tcp);
    CHECK (h_capture (command, out, sizeof out) == 6);
    CHECK (strstr (out, "no-such-method") != NULL);
    //  And from C to C, with headers, two frames back
    zccp_client_t *c = h_client (broker.tcp, "c-caller");
    REQUIRE (c);
    zmsg_t *content = zmsg_new ();
    zmsg_addstr (content, "abc");
    CHECK (zccp_client_request (c, "c-upper", "upper", NULL, &content, 5000) == 0);
    CHECK_STR (zccp_client_content (c), "ABC");
    CHECK (zmsg_size (zccp_client_body (c)) == 2);
    zccp_client_destroy (&c);
    zactor_destroy (&device);
}

//  A retry (same requester, same request id, hand-made DIRECTs) is
//  answered from the device's record: the handler runs once, both get
//  its answer; another id runs it again.
static void
test_retry_answered_from_record (void)
{
    device_t d = { broker.ipc, "c-count", NULL, NULL, "count", s_count };
    zactor_t *device = s_device_start (&d);
    zccp_client_t *c = h_client (broker.tcp, "c-retrier");
    REQUIRE (device && c);
    const char *ids [] = { "retry-1", "retry-1", "retry-2", "retry-1" };
    const char *want [] = { "run 1", "run 1", "run 2", "run 1" };
    for (int i = 0; i < 4; i++) {
        zhash_t *headers = zhash_new ();
        zhash_insert (headers, "zccp-request-id", (void *) ids [i]);
        zhash_insert (headers, "zccp-method", "count");
        CHECK (zccp_client_direct (c, "c-count", headers, NULL) == 0);
        zhash_destroy (&headers);
        REQUIRE (s_recv (c, 5000));
        CHECK_STR (zccp_client_header (c, "zccp-reply-to"), ids [i]);
        CHECK_STR (zccp_client_header (c, "zccp-status"), "ok");
        CHECK_STR (zccp_client_content (c), want [i]);
    }
    zccp_client_destroy (&c);
    zactor_destroy (&device);
}

//  The Python client's device and requester (clients/python)
static void
test_c_requester_python_device (void)
{
    pid_t dev = s_python_device (broker.ipc, "py-echo");
    zccp_client_t *c = h_client (broker.tcp, "c-to-python");
    REQUIRE (c);
    CHECK (s_reachable (c, "py-echo"));
    zmsg_t *content = zmsg_new ();
    zmsg_addstr (content, "from C");
    zmsg_addmem (content, "\0\1", 2);
    CHECK (zccp_client_request (c, "py-echo", "echo", NULL, &content, 5000) == 0);
    CHECK_STR (zccp_client_sender (c), "py-echo");
    CHECK_STR (zccp_client_content (c), "from C");
    CHECK (zmsg_size (zccp_client_body (c)) == 2);
    CHECK (zccp_client_request (c, "py-echo", "fail", NULL, NULL, 5000) == -1);
    CHECK_STR (zccp_client_error (c), "device-error");
    zccp_client_destroy (&c);
    kill (dev, SIGTERM);
    CHECK (h_wait (dev, 10000) == 0);
}

static void
test_python_call_c_device (void)
{
    device_t d = { broker.tcp, "c-upper-py", NULL, NULL, "upper", s_upper };
    zactor_t *device = s_device_start (&d);
    REQUIRE (device);
    char command [1024], out [1024];
    snprintf (command, sizeof command,
              "PYTHONPATH=%s %s -m zccp call --endpoint %s --timeout 10 c-upper-py upper 'hello from python' 2>&1",
              h_env ("ZCCP_PYTHONPATH"), h_env ("ZCCP_PYTHON"), broker.ipc);
    CHECK (h_capture (command, out, sizeof out) == 0);
    CHECK (strstr (out, "HELLO FROM PYTHON") != NULL);
    snprintf (command, sizeof command,
              "PYTHONPATH=%s %s -m zccp call --endpoint %s --timeout 10 c-upper-py other x 2>&1",
              h_env ("ZCCP_PYTHONPATH"), h_env ("ZCCP_PYTHON"), broker.ipc);
    CHECK (h_capture (command, out, sizeof out) == 6);
    zactor_destroy (&device);
}

static void
test_group_call (void)
{
    device_t d1 = { broker.tcp, "c-pdu-1", "rack=12", "^pdus$", "status", s_status };
    device_t d2 = { broker.ipc, "c-pdu-2", "rack=13", "^pdus$", "status", s_busy };
    zactor_t *dev1 = s_device_start (&d1);
    zactor_t *dev2 = s_device_start (&d2);
    pid_t go = s_go_device (broker.ipc, "go-pdu", "rack=12", "^pdus$");
    zccp_client_t *c = h_client (broker.tcp, "c-operator");
    REQUIRE (dev1 && dev2 && c);
    //  The Go device's subscription is in place once a dry run sees it
    zccp_group_t *g = NULL;
    for (int i = 0; i < 100; i++) {
        zccp_group_destroy (&g);
        g = zccp_client_group (c, "pdus", "status", NULL, NULL, NULL, 5000, true);
        if (!g || zccp_group_expected (g) == 3)
            break;
        zclock_sleep (50);
    }
    REQUIRE (g && zccp_group_expected (g) == 3);
    CHECK (zccp_group_next (g) == -1);       //  a dry run delivers nothing
    CHECK (zccp_group_missing (g) == 3);
    zccp_group_destroy (&g);

    g = zccp_client_group (c, "pdus", "status", NULL, NULL, NULL, 10000, false);
    REQUIRE (g);
    CHECK (zccp_group_expected (g) == 3);
    int replies = 0, ok = 0;
    while (zccp_group_next (g) == 0) {
        replies++;
        if (zccp_client_status (c) == 0) {
            ok++;
            if (streq (zccp_client_sender (c), "c-pdu-1"))
                CHECK_STR (zccp_client_content (c), "status of c-pdu-1");
        }
        else {
            CHECK_STR (zccp_client_sender (c), "c-pdu-2");
            CHECK_STR (zccp_client_error (c), "busy");
            CHECK_STR (zccp_client_reason (c), "rack 13 is busy");
        }
    }
    CHECK (replies == 3 && ok == 2);
    CHECK (zccp_group_ok (g) == 2 && zccp_group_failed (g) == 1 && zccp_group_missing (g) == 0);
    zccp_group_destroy (&g);

    //  Narrowed by label: rack 12 only (the C and the Go device)
    g = zccp_client_group (c, "pdus", "status", "rack=12", NULL, NULL, 10000, false);
    REQUIRE (g);
    CHECK (zccp_group_expected (g) == 2);
    while (zccp_group_next (g) == 0)
        CHECK (zccp_client_status (c) == 0);
    CHECK (zccp_group_ok (g) == 2 && zccp_group_missing (g) == 0);
    zccp_group_destroy (&g);
    //  A group nobody serves: an empty receipt, nothing to wait for
    g = zccp_client_group (c, "no-such-group", "status", NULL, NULL, NULL, 10000, false);
    REQUIRE (g);
    CHECK (zccp_group_expected (g) == 0);
    CHECK (zccp_group_next (g) == -1);
    CHECK (zccp_group_ok (g) == 0 && zccp_group_missing (g) == 0);
    zccp_group_destroy (&g);
    zccp_client_destroy (&c);
    zactor_destroy (&dev1);
    zactor_destroy (&dev2);
    kill (go, SIGTERM);
    CHECK (h_wait (go, 10000) == 0);
}

static void
test_broker_restart (void)
{
    h_broker_t r;
    REQUIRE (h_broker_start (&r, NULL) == 0);
    zccp_client_t *sub = h_client (r.tcp, "restart-sub");
    REQUIRE (sub);
    CHECK (zccp_client_subscribe (sub, "^r\\.") == 0);
    //  More expressions than the socket's high-water mark (1000): every one
    //  must be renewed, the last one too
    char expression [32];
    int subscribed = 0;
    for (int i = 0; i < 1500; i++) {
        snprintf (expression, sizeof expression, "^m%d$", i);
        subscribed += zccp_client_subscribe (sub, expression) == 0;
    }
    CHECK (subscribed == 1500);
    CHECK (zccp_client_sessions (sub) == 1);
    h_broker_kill (&r, SIGKILL);
    REQUIRE (h_broker_restart (&r, NULL) == 0);
    //  The subscriber says HELLO again and renews its subscription by
    //  itself; until it has, publications miss it
    zccp_client_t *pub = h_client (r.ipc, "restart-pub");
    REQUIRE (pub);
    bool got = false;
    for (int i = 0; i < 100 && !got; i++) {
        zccp_client_publish (pub, "r.after", "back");
        got = s_recv (sub, 100) && streq (zccp_client_content (sub), "back");
    }
    CHECK (got);
    //  The last expression is renewed last: wait (bounded) for it
    bool last = false;
    for (int i = 0; i < 100 && !last; i++) {
        zccp_client_publish (pub, "m1499", "last");
        while (!last && s_recv (sub, 100))
            last = streq (zccp_client_content (sub), "last");
    }
    CHECK (last);
    CHECK (zccp_client_publish (pub, "m0", "first") == 0);
    bool first = false;         //  late copies of the probes may come first
    while (!first && s_recv (sub, 5000))
        first = streq (zccp_client_content (sub), "first");
    CHECK (first);
    CHECK (zccp_client_sessions (sub) == 2);
    CHECK (zccp_client_connected (sub));
    zccp_client_destroy (&pub);
    zccp_client_destroy (&sub);
    h_broker_kill (&r, SIGTERM);
}

static void
test_idle_keepalive (void)
{
    zccp_client_t *sub = h_client (brisk.tcp, "idle-sub");
    REQUIRE (sub);
    CHECK_STR (zccp_client_server_info (sub, "zccp-timeout"), "1500");
    CHECK (zccp_client_subscribe (sub, "^k\\.") == 0);
    //  Idle over twice the broker's timeout: the actor answers its PINGs
    CHECK (zccp_client_wait (sub, 3500) == -1);
    CHECK_STR (zccp_client_error (sub), "timeout");
    CHECK (zccp_client_sessions (sub) == 1);
    zccp_client_t *pub = h_client (brisk.ipc, "idle-pub");
    REQUIRE (pub);
    CHECK (zccp_client_publish (pub, "k.1", "still here") == 0);
    REQUIRE (s_recv (sub, 5000));
    CHECK_STR (zccp_client_content (sub), "still here");
    CHECK (zccp_client_sessions (sub) == 1);
    zccp_client_destroy (&pub);
    zccp_client_destroy (&sub);
}

static void
test_slow_handler (void)
{
    device_t d = { brisk.ipc, "c-slow", "kind=slow", NULL, NULL, s_slow };
    zactor_t *device = s_device_start (&d);
    zccp_client_t *c = h_client (brisk.tcp, "slow-caller");
    REQUIRE (device && c);
    CHECK (zccp_client_request (c, "c-slow", "work", NULL, NULL, 10000) == 0);
    CHECK_STR (zccp_client_content (c), "done");
    CHECK (s_device_sessions (device) == 1);
    CHECK (zccp_client_sessions (c) == 1);
    zccp_client_destroy (&c);
    zactor_destroy (&device);
}

//  The original shell client: a subscriber, then a publisher
static void
test_zccp_sh (void)
{
    char out [256], env [160];
    snprintf (out, sizeof out, "%s/zccp_sh-sub.out", h_env ("ZCCP_TESTDIR"));
    snprintf (env, sizeof env, "ZCCP_ENDPOINT=%s", broker.ipc);
    //  1000 ms, the original's connect timeout, is short for valgrind on a
    //  busy machine
    const char *envs [] = { env, "ZCCP_CONNECT_TIMEOUT=20000", NULL };
    const char *argv [16];
    int n = h_wrap (argv, 10);
    argv [n] = h_env ("ZCCP_SH");
    argv [n + 1] = "^sh\\.";
    argv [n + 2] = NULL;
    pid_t sub = h_spawn ((char *const *) argv, envs, out);
    //  It is subscribed once the broker lists an anonymous session holding
    //  one subscription (no other anonymous client is connected now)
    zccp_client_t *c = h_client (broker.tcp, "sh-watcher");
    REQUIRE (c);
    bool subscribed = false;
    for (int i = 0; i < 300 && !subscribed; i++) {
        if (zccp_client_request (c, "$zccp", "clients", NULL, NULL, 5000) == 0)
            for (zframe_t *f = zmsg_first (zccp_client_body (c)); f && !subscribed;
                 f = zmsg_next (zccp_client_body (c))) {
                char *json = zframe_strdup (f);
                subscribed = strstr (json, "\"identifier\":\"\"") && strstr (json, "\"subscriptions\":1");
                free (json);
            }
        if (!subscribed)
            zclock_sleep (50);
    }
    zccp_client_destroy (&c);
    CHECK (subscribed);
    argv [n + 1] = "sh.test";
    argv [n + 2] = "hello-sh";
    argv [n + 3] = NULL;
    pid_t pub = h_spawn ((char *const *) argv, envs, NULL);
    CHECK (h_wait (pub, 60000) == 0);
    bool seen = h_file_has (out, "Content=hello-sh sender= address=sh.test", 10000);
    CHECK (seen);
    kill (sub, SIGINT);
    CHECK (h_wait (sub, 60000) == 0);
}

//  The example device program, as another language's suite would run it:
//  a Go group call reaches it (it declares zccp-serves), then SIGTERM
static void
test_device_program (void)
{
    char out [256], endpoint [160], command [512], reply [1024];
    snprintf (out, sizeof out, "%s/zccp_device.out", h_env ("ZCCP_TESTDIR"));
    const char *argv [24];
    int n = h_wrap (argv, 10);
    const char *args [] = { h_env ("ZCCP_DEVICE"), "--endpoint", broker.tcp, "--id", "c-program",
                            "--label", "rack=99", "--subscribe", "^cdevs$", NULL };
    for (int i = 0; args [i]; i++)
        argv [n++] = args [i];
    argv [n] = NULL;
    const char *env [] = { "ZCCP_CONNECT_TIMEOUT=20000", NULL };
    pid_t dev = h_spawn ((char *const *) argv, env, out);
    CHECK (h_file_has (out, "ready", 60000));
    snprintf (endpoint, sizeof endpoint, "%s", broker.ipc);
    snprintf (command, sizeof command, "%s call --endpoint %s --timeout 20s --group cdevs --label rack=99 status 2>&1",
              h_env ("ZCCP_CLI"), endpoint);
    CHECK (h_capture (command, reply, sizeof reply) == 0);
    CHECK (strstr (reply, "c-program ok") != NULL);
    CHECK (strstr (reply, "expected 1, ok 1") != NULL);
    kill (dev, SIGTERM);
    CHECK (h_wait (dev, 60000) == 0);
}

//  The example caller program, as another language's suite would run it
//  (under valgrind like every C process here): the reply's frames on
//  stdout, and the exit codes of `zccp call`
static void
test_call_program (void)
{
    device_t d = { broker.ipc, "c-upper-call", NULL, NULL, "upper", s_upper };
    zactor_t *device = s_device_start (&d);
    REQUIRE (device);
    char command [1024], out [2048];
    const char *wrap = getenv ("ZCCP_WRAP");
    const char *base = "ZCCP_CONNECT_TIMEOUT=20000 %s %s --endpoint %s --timeout 20 %s 2>&1";
    snprintf (command, sizeof command, base, wrap? wrap: "", h_env ("ZCCP_CALL"), broker.tcp,
              "c-upper-call upper 'hello from c'");
    CHECK (h_capture (command, out, sizeof out) == 0);
    CHECK_STR (out, "HELLO FROM Cupper");
    //  No body: a request with no content frame
    snprintf (command, sizeof command, base, wrap? wrap: "", h_env ("ZCCP_CALL"), broker.tcp,
              "c-upper-call upper");
    CHECK (h_capture (command, out, sizeof out) == 0);
    CHECK_STR (out, "upper");
    //  A method the device does not serve: exit 6 with the code
    snprintf (command, sizeof command, base, wrap? wrap: "", h_env ("ZCCP_CALL"), broker.tcp,
              "c-upper-call other x");
    CHECK (h_capture (command, out, sizeof out) == 6);
    CHECK (strstr (out, "no-such-method") != NULL);
    //  Nobody by that name: exit 4
    snprintf (command, sizeof command, base, wrap? wrap: "", h_env ("ZCCP_CALL"), broker.tcp,
              "nobody-here upper x");
    CHECK (h_capture (command, out, sizeof out) == 4);
    CHECK (strstr (out, "no-such-client") != NULL);
    //  Bad command line: exit 1 with the usage
    snprintf (command, sizeof command, base, wrap? wrap: "", h_env ("ZCCP_CALL"), broker.tcp, "");
    CHECK (h_capture (command, out, sizeof out) == 1);
    CHECK (strstr (out, "usage:") != NULL);
    zactor_destroy (&device);
}

static void
test_original_api_program (void)
{
    const char *argv [16];
    int n = h_wrap (argv, 10);
    argv [n] = h_env ("ZCCP_ORIGINAL");
    argv [n + 1] = broker.tcp;
    argv [n + 2] = "20000";
    argv [n + 3] = NULL;
    pid_t p = h_spawn ((char *const *) argv, NULL, NULL);
    CHECK (h_wait (p, 60000) == 0);
}

static void
test_connect_failure (void)
{
    zccp_client_t *c = zccp_client_new ();
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "ipc://@/zccp-ctest-nobody-%d", getpid ());
    CHECK (zccp_client_connect (c, endpoint, 300) == -1);
    CHECK_STR (zccp_client_error (c), "timeout");
    CHECK (zccp_client_publish (c, "a", "b") == -1);
    CHECK_STR (zccp_client_error (c), "not-connected");
    //  and the same client connects once a broker is there
    CHECK (zccp_client_connect (c, broker.tcp, 5000) == 0);
    CHECK (zccp_client_connected (c));
    zccp_client_destroy (&c);
}

//  INVALID on a live session (from a scripted broker): one HELLO on the
//  same connection, then the subscription again
static void
test_invalid_recovery (void)
{
    int mode = FAKE_ANSWER;
    char endpoint [64];
    zactor_t *fake = fake_broker_new (&mode, endpoint, sizeof endpoint);
    zccp_client_t *c = h_client (endpoint, "invalid-victim");
    REQUIRE (c);
    CHECK (zccp_client_subscribe (c, "^renew\\.me$") == 0);
    int hellos, subs, conns;
    fake_broker_count (fake, &hellos, &subs, &conns, NULL);
    CHECK (hellos == 1 && subs == 1 && conns == 1);
    zstr_send (fake, "INVALID");
    char *expression = NULL;
    for (int i = 0; i < 200 && subs < 2; i++) {
        zstr_free (&expression);
        zclock_sleep (i? 25: 0);
        fake_broker_count (fake, &hellos, &subs, &conns, &expression);
    }
    CHECK (hellos == 2 && subs == 2 && conns == 1);
    CHECK_STR (expression, "^renew\\.me$");
    zstr_free (&expression);
    CHECK (zccp_client_sessions (c) == 2);
    zccp_client_destroy (&c);
    zactor_destroy (&fake);
}

//  A broker that never says HELLO-OK, and one that answers INVALID to
//  every HELLO: one HELLO per connection, a new connection only after the
//  3 s wait (no HELLO storm)
static void
s_no_storm (int mode)
{
    char endpoint [64];
    zactor_t *fake = fake_broker_new (&mode, endpoint, sizeof endpoint);
    zccp_client_t *c = zccp_client_new ();
    zccp_client_set_identifier (c, "storm");
    CHECK (zccp_client_connect (c, endpoint, 3600) == -1);
    CHECK_STR (zccp_client_error (c), "timeout");
    int hellos, subs, conns;
    fake_broker_count (fake, &hellos, &subs, &conns, NULL);
    CHECK (hellos >= 1 && hellos <= 2);
    CHECK (hellos == conns);
    zccp_client_destroy (&c);
    zactor_destroy (&fake);
}

static void
test_no_hello_storm (void)
{
    s_no_storm (FAKE_SILENT);
    s_no_storm (FAKE_INVALID);
}

//  A broker silent past the timeout it announced: a new connection and
//  a new session, one HELLO each
static void
test_silent_broker (void)
{
    int mode = FAKE_QUIET;
    char endpoint [64];
    zactor_t *fake = fake_broker_new (&mode, endpoint, sizeof endpoint);
    zccp_client_t *c = h_client (endpoint, "quiet-victim");
    REQUIRE (c);
    int hellos = 0, subs, conns = 0;
    for (int i = 0; i < 200 && conns < 3; i++) {
        zclock_sleep (i? 50: 0);
        fake_broker_count (fake, &hellos, &subs, &conns, NULL);
    }
    CHECK (conns >= 3);
    CHECK (hellos == conns);
    CHECK (zccp_client_sessions (c) >= 2);
    zccp_client_destroy (&c);
    zactor_destroy (&fake);
}

//  Malformed commands from a broker: ignored, nothing crashes (valgrind
//  watching), and the valid message after them arrives
static void
test_malformed_from_broker (void)
{
    int mode = FAKE_ANSWER;
    char endpoint [64];
    zactor_t *fake = fake_broker_new (&mode, endpoint, sizeof endpoint);
    zccp_client_t *c = h_client (endpoint, "garbage-victim");
    REQUIRE (c);
    zstr_send (fake, "GARBAGE");
    bool after = false;
    int others = 0;
    while (!after && s_recv (c, 20000)) {
        after = streq (zccp_client_address (c), "after-garbage");
        others += !after;
    }
    CHECK (after);
    CHECK (others < 2000);      //  mutations that stayed valid arrive as messages
    zccp_client_destroy (&c);
    zactor_destroy (&fake);
}

//  A newer session with the same identifier takes over: the older one is
//  told (an error) and stops for good
static void
test_taken_over (void)
{
    zccp_client_t *old = h_client (broker.tcp, "the-one");
    REQUIRE (old);
    zccp_client_t *newer = h_client (broker.ipc, "the-one");
    REQUIRE (newer);
    REQUIRE (s_recv (old, 5000) || zccp_client_status (old) == -1);
    CHECK_STR (zccp_client_error (old), "taken-over");
    CHECK (!zccp_client_connected (old));
    CHECK (zccp_client_subscribe (old, "x") == -1);
    CHECK (zccp_client_connected (newer));
    zccp_client_destroy (&old);
    zccp_client_destroy (&newer);
}

//  Runs command (a printf format) and returns its exit code, stdout in
//  out (newline stripped)
static int
s_run (char *out, size_t size, const char *format, ...)
{
    char command [1024];
    va_list args;
    va_start (args, format);
    vsnprintf (command, sizeof command, format, args);
    va_end (args);
    int rc = h_capture (command, out, size);
    out [strcspn (out, "\n")] = 0;
    return rc;
}

//  A client with CURVE keys saying HELLO as identifier; connect's result
static int
s_curve_connect (zccp_client_t **c_p, const char *endpoint, const char *identifier,
                 const char *server, zcert_t *cert, int timeout)
{
    zccp_client_t *c = *c_p = zccp_client_new ();
    zccp_client_set_identifier (c, identifier);
    if (zccp_client_set_curve (c, server, zcert_public_txt (cert), zcert_secret_txt (cert)))
        return -2;
    return zccp_client_connect (c, endpoint, timeout);
}

//  CURVE against zccpd --enrol on a curve+tcp bind: an unknown key is
//  pending (connect fails at once with not-authorized), `zccp keys accept`
//  admits it, then it has a session and deliveries from a NULL client; it
//  may use only its identifier; a key pair from `zccp keygen`'s file with
//  a pattern binding; a wrong server key gets no session
static void
test_curve (void)
{
    char dir [256], bind [64], server [64], out [4096];
    snprintf (dir, sizeof dir, "%s/curve-data", h_env ("ZCCP_TESTDIR"));
    REQUIRE (s_run (server, sizeof server, "%s key --data-dir %s 2>/dev/null", h_env ("ZCCPD"), dir) == 0);
    REQUIRE (strlen (server) == 40);
    snprintf (bind, sizeof bind, "curve+tcp://127.0.0.1:%d", h_free_port ());
    const char *flags [] = { "--bind", bind, "--enrol", "--data-dir", dir, NULL };
    h_broker_t b;
    REQUIRE (h_broker_start (&b, flags) == 0);
    zcert_t *cert = zcert_new ();
    zccp_client_t *dev;
    CHECK (s_curve_connect (&dev, bind, "c-dev", server, cert, 10000) == -1);
    CHECK_STR (zccp_client_error (dev), "not-authorized");
    CHECK (strstr (zccp_client_reason (dev), "pending"));
    zccp_client_destroy (&dev);
    CHECK (s_run (out, sizeof out, "%s keys accept --json --endpoint %s -- '%s'", h_env ("ZCCP_CLI"),
                  b.ipc, zcert_public_txt (cert)) == 0);
    CHECK (strstr (out, "\"owns\":[\"c-dev\"]"));

    CHECK (s_curve_connect (&dev, bind, "c-dev", server, cert, 10000) == 0);
    CHECK (zccp_client_subscribe (dev, "^cmd\\.c-dev$") == 0);
    zccp_client_t *plain = h_client (b.tcp, "c-null");
    REQUIRE (plain);
    CHECK (zccp_client_subscribe (plain, "^metrics\\.") == 0);
    CHECK (zccp_client_publish (plain, "cmd.c-dev", "on") == 0);
    CHECK (s_recv (dev, 5000) && streq (zccp_client_content (dev), "on"));
    CHECK (zccp_client_publish (dev, "metrics.c-dev", "42") == 0);
    CHECK (s_recv (plain, 5000) && streq (zccp_client_content (plain), "42"));
    CHECK_STR (zccp_client_sender (plain), "c-dev");
    zccp_client_destroy (&plain);
    zccp_client_destroy (&dev);

    CHECK (s_curve_connect (&dev, bind, "c-other", server, cert, 10000) == -1);
    CHECK_STR (zccp_client_error (dev), "not-authorized");
    CHECK (strstr (zccp_client_reason (dev), "not among"));
    zccp_client_destroy (&dev);

    //  The key file zccp keygen writes, a pattern binding
    char path [300], public [64];
    snprintf (path, sizeof path, "%s/c-client.key", h_env ("ZCCP_TESTDIR"));
    CHECK (s_run (public, sizeof public, "%s keygen --key-file %s 2>/dev/null", h_env ("ZCCP_CLI"), path) == 0);
    CHECK (s_run (out, sizeof out, "%s keys accept --ident 'c-file-*' --endpoint %s -- '%s'", h_env ("ZCCP_CLI"),
                  b.ipc, public) == 0);
    dev = zccp_client_new ();
    zccp_client_set_identifier (dev, "c-file-7");
    CHECK (zccp_client_set_curve_cert (dev, server, path) == 0);
    CHECK (zccp_client_connect (dev, bind, 10000) == 0);
    zccp_client_destroy (&dev);

    //  Across languages, both over CURVE: the Python caller to the C
    //  example device (its keys from ZCCP_SERVER_KEY, ZCCP_KEY_FILE)
    char devout [300], env_server [80], env_file [320], pyfile [300];
    snprintf (devout, sizeof devout, "%s/zccp_device_curve.out", h_env ("ZCCP_TESTDIR"));
    snprintf (env_server, sizeof env_server, "ZCCP_SERVER_KEY=%s", server);
    snprintf (env_file, sizeof env_file, "ZCCP_KEY_FILE=%s", path);
    const char *argv [24];
    int n = h_wrap (argv, 10);
    const char *args [] = { h_env ("ZCCP_DEVICE"), "--endpoint", bind, "--id", "c-file-dev", NULL };
    for (int i = 0; args [i]; i++)
        argv [n++] = args [i];
    argv [n] = NULL;
    const char *env [] = { "ZCCP_CONNECT_TIMEOUT=20000", env_server, env_file, NULL };
    pid_t cdev = h_spawn ((char *const *) argv, env, devout);
    CHECK (h_file_has (devout, "ready", 60000));
    snprintf (pyfile, sizeof pyfile, "%s/py-client.key", h_env ("ZCCP_TESTDIR"));
    CHECK (s_run (public, sizeof public, "%s keygen --key-file %s 2>/dev/null", h_env ("ZCCP_CLI"), pyfile) == 0);
    CHECK (s_run (out, sizeof out, "%s keys accept --ident 'py-c-*' --endpoint %s -- '%s'", h_env ("ZCCP_CLI"),
                  b.ipc, public) == 0);
    CHECK (s_run (out, sizeof out, "PYTHONPATH=%s %s -m zccp call --endpoint %s --server-key '%s' --key-file %s"
                  " --id py-c-1 --timeout 20 c-file-dev echo 'over curve' 2>&1",
                  h_env ("ZCCP_PYTHONPATH"), h_env ("ZCCP_PYTHON"), bind, server, pyfile) == 0);
    CHECK_STR (out, "over curve");
    //  And the C example caller to it, over CURVE from the same variables
    //  (with the key bound to py-c-*)
    const char *wrap = getenv ("ZCCP_WRAP");
    CHECK (s_run (out, sizeof out, "ZCCP_CONNECT_TIMEOUT=20000 ZCCP_SERVER_KEY='%s' ZCCP_KEY_FILE='%s' %s %s"
                  " --endpoint %s --id py-c-2 --timeout 20 c-file-dev echo 'c over curve' 2>&1",
                  server, pyfile, wrap? wrap: "", h_env ("ZCCP_CALL"), bind) == 0);
    CHECK_STR (out, "c over curve");
    kill (cdev, SIGTERM);
    CHECK (h_wait (cdev, 60000) == 0);

    //  Wrong server key: the broker closes the connection after HELLO
    zcert_t *other = zcert_new ();
    CHECK (s_curve_connect (&dev, bind, "c-dev", zcert_public_txt (other), cert, 1000) == -1);
    CHECK_STR (zccp_client_error (dev), "timeout");
    zccp_client_destroy (&dev);
    //  Bad arguments
    dev = zccp_client_new ();
    CHECK (zccp_client_connect (dev, bind, 1000) == -1);     //  curve+ without keys
    CHECK_STR (zccp_client_error (dev), "invalid-argument");
    CHECK (zccp_client_set_curve (dev, server, "short", zcert_secret_txt (cert)) == -1);
    CHECK (zccp_client_set_curve_cert (dev, server, "/nonexistent") == -1);
    zccp_client_destroy (&dev);
    zcert_destroy (&other);
    zcert_destroy (&cert);
    h_broker_kill (&b, SIGTERM);
}

int
main (int argc, char *argv [])
{
    zsys_init ();
    h_test_t tests [] = {
        { "pubsub_headers_frames", test_pubsub_headers_frames },
        { "once_only_delivery", test_once_only_delivery },
        { "direct", test_direct },
        { "connect_failure", test_connect_failure },
        { "c_requester_go_device", test_c_requester_go_device },
        { "go_call_c_device", test_go_call_c_device },
        { "c_requester_python_device", test_c_requester_python_device },
        { "python_call_c_device", test_python_call_c_device },
        { "group_call", test_group_call },
        { "broker_restart", test_broker_restart },
        { "idle_keepalive", test_idle_keepalive },
        { "slow_handler", test_slow_handler },
        { "retry_answered_from_record", test_retry_answered_from_record },
        { "invalid_recovery", test_invalid_recovery },
        { "no_hello_storm", test_no_hello_storm },
        { "silent_broker", test_silent_broker },
        { "malformed_from_broker", test_malformed_from_broker },
        { "taken_over", test_taken_over },
        { "zccp_sh", test_zccp_sh },
        { "device_program", test_device_program },
        { "call_program", test_call_program },
        { "original_api_program", test_original_api_program },
        { "curve", test_curve },
        { NULL, NULL }
    };
    const char *brisk_flags [] = { "--timeout", "1500ms", "--ping-interval", "250ms", NULL };
    if (h_broker_start (&broker, NULL) || h_broker_start (&brisk, brisk_flags)) {
        printf ("cannot start zccpd\n0 passed, 1 failed\n");
        return 1;
    }
    int failed = h_run (tests, argc > 1? argv [1]: NULL);
    h_broker_kill (&broker, SIGTERM);
    h_broker_kill (&brisk, SIGTERM);
    return failed? 1: 0;
}
