/*  zccp_sh - the ZCCP shell client, as the original had it
        zccp_sh PATTERN         print every notification whose address
                                matches PATTERN (until Ctrl-C)
        zccp_sh ADDRESS BODY    publish one notification
    The broker is ipc://@/zccp, or $ZCCP_ENDPOINT when set; the connect
    timeout 1000 ms, or $ZCCP_CONNECT_TIMEOUT (e.g. under valgrind);
    ZCCP_VERBOSE set traces the protocol. Written against the original API
    only. */

#include <zccp.h>

int
main (int argc, char *argv [])
{
    if (argc < 2 || argc > 3) {
        printf ("syntax: zccp_sh pattern | zccp_sh address body\n");
        return 0;
    }
    const char *endpoint = getenv ("ZCCP_ENDPOINT");
    if (!endpoint || !*endpoint)
        endpoint = "ipc://@/zccp";
    const char *timeout = getenv ("ZCCP_CONNECT_TIMEOUT");
    zccp_client_t *client = zccp_client_new ();
    if (getenv ("ZCCP_VERBOSE"))
        zccp_client_verbose (client);
    if (zccp_client_connect (client, endpoint, timeout? atoi (timeout): 1000)) {
        zsys_error ("zccp_sh: server not reachable at %s", endpoint);
        zccp_client_destroy (&client);
        return 1;
    }
    int rc = 0;
    if (argc == 2) {
        if (zccp_client_subscribe (client, argv [1])) {
            zsys_error ("zccp_sh: cannot subscribe to %s: %s", argv [1], zccp_client_reason (client));
            rc = 1;
        }
        while (rc == 0) {
            char *content = zccp_client_recv (client);
            if (!content)
                break;          //  interrupted
            printf ("Content=%s sender=%s address=%s\n",
                    content, zccp_client_sender (client), zccp_client_address (client));
            fflush (stdout);
        }
    }
    else
    if (zccp_client_publish (client, argv [1], argv [2]))
        rc = 1;
    zccp_client_destroy (&client);
    return rc;
}
