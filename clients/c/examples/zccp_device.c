/*  zccp_device - an echo device in C, for trying libzccp and for other
    languages' test suites:

        zccp_device [--endpoint E] --id ID [--label k=v]... [--subscribe EXPR]...

    Serves every method: the reply is the request's content, unchanged;
    method "fail" answers device-error, method "sleep" waits atof(body)
    seconds first. Prints "ready" once connected and subscribed; stops on
    SIGINT or SIGTERM (GOODBYE, exit 0). Exit 1 on a bad command line or
    an unreachable broker. $ZCCP_ENDPOINT is the default endpoint,
    $ZCCP_CONNECT_TIMEOUT the connect timeout (msecs, default 3000).
    CURVE: $ZCCP_SERVER_KEY (the broker's public key, Z85) and
    $ZCCP_KEY_FILE (this client's key pair, as `zccp keygen` writes it). */

#include <zccp.h>

static int
s_serve (zccp_request_t *request, void *arg)
{
    const char *method = zccp_request_method (request);
    if (streq (method, "fail")) {
        zccp_request_fail (request, "device-error", "asked to fail");
        return 0;
    }
    zmsg_t *content = zmsg_dup (zccp_request_content (request));
    if (streq (method, "sleep")) {
        char *body = zmsg_size (content)? zframe_strdup (zmsg_first (content)): NULL;
        zclock_sleep ((int) (atof (body? body: "0") * 1000));
        zstr_free (&body);
    }
    zccp_request_reply (request, &content);
    return 0;
}

int
main (int argc, char *argv [])
{
    const char *endpoint = getenv ("ZCCP_ENDPOINT");
    endpoint = endpoint && *endpoint? endpoint: "ipc://@/zccp";
    const char *id = NULL;
    zlist_t *subscriptions = zlist_new ();
    zccp_client_t *client = zccp_client_new ();
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *eq = strchr (argv [i + 1], '=');
        if (streq (argv [i], "--endpoint"))
            endpoint = argv [i + 1];
        else
        if (streq (argv [i], "--id"))
            id = argv [i + 1];
        else
        if (streq (argv [i], "--subscribe"))
            zlist_append (subscriptions, argv [i + 1]);
        else
        if (streq (argv [i], "--label") && eq) {
            char *name = strndup (argv [i + 1], (size_t) (eq - argv [i + 1]));
            zccp_client_set_label (client, name, eq + 1);
            free (name);
        }
        else
            id = NULL, i = argc;        //  unknown flag: usage
    }
    int rc = 0;
    if (!id || argc % 2 == 0) {
        fprintf (stderr, "usage: zccp_device [--endpoint E] --id ID [--label k=v]... [--subscribe EXPR]...\n");
        rc = 1;
    }
    if (rc == 0) {
        zccp_client_set_identifier (client, id);
        zccp_client_handle (client, NULL, s_serve, NULL);   //  before connect: a group member
        const char *timeout = getenv ("ZCCP_CONNECT_TIMEOUT");
        const char *server_key = getenv ("ZCCP_SERVER_KEY");
        if (server_key && *server_key
        &&  zccp_client_set_curve_cert (client, server_key, getenv ("ZCCP_KEY_FILE"))) {
            fprintf (stderr, "zccp_device: ZCCP_SERVER_KEY, ZCCP_KEY_FILE: %s\n", zccp_client_reason (client));
            rc = 1;
        }
        else
        if (zccp_client_connect (client, endpoint, timeout? atoi (timeout): 3000)) {
            fprintf (stderr, "zccp_device: %s: %s\n", endpoint, zccp_client_reason (client));
            rc = 1;
        }
    }
    for (char *e = rc? NULL: (char *) zlist_first (subscriptions); e; e = (char *) zlist_next (subscriptions))
        if (zccp_client_subscribe (client, e)) {
            fprintf (stderr, "zccp_device: subscribe %s: %s\n", e, zccp_client_reason (client));
            rc = 1;
            break;
        }
    if (rc == 0) {
        printf ("ready\n");
        fflush (stdout);
        //  Handlers run inside wait; it returns -1 "interrupted" on a signal
        while (zccp_client_wait (client, -1) == 0 || !streq (zccp_client_error (client), "interrupted"))
            ;
    }
    zccp_client_destroy (&client);
    zlist_destroy (&subscriptions);
    return rc;
}
