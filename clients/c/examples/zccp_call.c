/*  zccp_call - one request from C, the caller other languages' test
    suites use beside zccp_device (and `zccp call`, `python3 -m zccp call`):

        zccp_call [--endpoint E] [--timeout SECS] [--id ID] TARGET METHOD [BODY]

    Sends METHOD with BODY (one frame; none without BODY) to the device
    TARGET and prints the reply's content frames to stdout. Exit codes as
    `zccp call`: 0 the device answered ok; 1 bad command line; 3 broker
    unreachable or session lost; 4 no such client (or it left before
    answering: disconnected); 5 timeout or expired;
    6 any other error reply (code and reason on stderr). $ZCCP_ENDPOINT is
    the default endpoint, $ZCCP_CONNECT_TIMEOUT the connect timeout (msecs,
    default 3000); the request timeout defaults to 5 s. The identifier
    defaults to c-call-PID-RANDOM (replies come back as DIRECTs to it).
    CURVE: $ZCCP_SERVER_KEY (the broker's public key, Z85) and
    $ZCCP_KEY_FILE (this client's key pair, as `zccp keygen` writes it),
    as zccp_device. */

#include <zccp.h>

static int
s_exit_code (const char *error)
{
    if (streq (error, "no-such-client") || streq (error, "disconnected"))
        return 4;
    if (streq (error, "timeout") || streq (error, "expired"))
        return 5;
    if (streq (error, "connection-lost"))
        return 3;
    return 6;
}

static void
s_usage (void)
{
    fprintf (stderr, "usage: zccp_call [--endpoint E] [--timeout SECS] [--id ID] TARGET METHOD [BODY]\n");
}

static int
s_call (zccp_client_t *client, const char *target, const char *method, const char *body, int timeout)
{
    zmsg_t *content = zmsg_new ();
    if (body)
        zmsg_addstr (content, body);
    if (zccp_client_request (client, target, method, NULL, &content, timeout)) {
        const char *error = zccp_client_error (client);
        fprintf (stderr, "zccp_call: %s: %s: %s\n", target, error, zccp_client_reason (client));
        return s_exit_code (error);
    }
    zmsg_t *reply = zccp_client_body (client);
    for (zframe_t *f = reply? zmsg_first (reply): NULL; f; f = zmsg_next (reply))
        if (zframe_size (f) && fwrite (zframe_data (f), zframe_size (f), 1, stdout) != 1)
            return 6;
    return fflush (stdout) == 0? 0: 6;
}

int
main (int argc, char *argv [])
{
    const char *endpoint = getenv ("ZCCP_ENDPOINT");
    endpoint = endpoint && *endpoint? endpoint: "ipc://@/zccp";
    const char *id = NULL;
    double seconds = 5;
    int i = 1;
    for (; i + 1 < argc && strncmp (argv [i], "--", 2) == 0; i += 2) {
        char *end = NULL;
        if (streq (argv [i], "--endpoint"))
            endpoint = argv [i + 1];
        else
        if (streq (argv [i], "--id"))
            id = argv [i + 1];
        else
        if (streq (argv [i], "--timeout")) {
            seconds = strtod (argv [i + 1], &end);
            if (*end || !(seconds > 0 && seconds < 86400)) {
                fprintf (stderr, "zccp_call: bad --timeout %s (seconds, > 0)\n", argv [i + 1]);
                return 1;
            }
        }
        else {
            s_usage ();
            return 1;
        }
    }
    if (argc - i < 2 || argc - i > 3 || strncmp (argv [i], "--", 2) == 0) {
        s_usage ();
        return 1;
    }
    const char *target = argv [i], *method = argv [i + 1];
    const char *body = argc - i == 3? argv [i + 2]: NULL;

    srandom ((unsigned) time (NULL) ^ (unsigned) getpid ());
    char *own_id = id? NULL: zsys_sprintf ("c-call-%d-%06x", (int) getpid (), randof (0xffffff));
    zccp_client_t *client = zccp_client_new ();
    zccp_client_set_identifier (client, id? id: own_id);
    const char *connect_timeout = getenv ("ZCCP_CONNECT_TIMEOUT");
    const char *server_key = getenv ("ZCCP_SERVER_KEY");
    int rc;
    if (server_key && *server_key
    &&  zccp_client_set_curve_cert (client, server_key, getenv ("ZCCP_KEY_FILE"))) {
        fprintf (stderr, "zccp_call: ZCCP_SERVER_KEY, ZCCP_KEY_FILE: %s\n", zccp_client_reason (client));
        rc = 1;
    }
    else
    if (zccp_client_connect (client, endpoint, connect_timeout? atoi (connect_timeout): 3000)) {
        fprintf (stderr, "zccp_call: %s: %s\n", endpoint, zccp_client_reason (client));
        rc = 3;
    }
    else
        rc = s_call (client, target, method, body, (int) (seconds * 1000));
    zccp_client_destroy (&client);
    zstr_free (&own_id);
    return rc;
}
