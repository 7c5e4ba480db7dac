/*  original_api - an application written against the original C client API
    only (the calls and the usage of the original's self-test and zccp_sh):
    a reader subscribes, a writer publishes, the reader receives. It must
    build against libzccp unchanged. Usage: original_api [ENDPOINT [TIMEOUT]]
    (connect timeout in msecs, default 1000 as the original's zccp_sh)
    Exit 0 when every check held. */

#include "zccp.h"

static int failures = 0;

static void
check (int ok, const char *what)
{
    if (!ok) {
        printf ("original_api: FAILED %s\n", what);
        failures++;
    }
}

int
main (int argc, char *argv [])
{
    const char *endpoint = argc > 1? argv [1]: "ipc://@/zccp";
    int timeout = argc > 2? atoi (argv [2]): 1000;
    zccp_client_t *reader = zccp_client_new ();
    assert (reader);
    check (zccp_client_actor (reader) != NULL, "actor");
    check (zccp_client_connect (reader, endpoint, timeout) == 0, "reader connect");
    check (zccp_client_subscribe (reader, "H.*O") == 0, "subscribe H.*O");
    check (zccp_client_subscribe (reader, "HELLO") == 0, "subscribe HELLO");
    check (zccp_client_status (reader) == 0, "status after subscribe");

    zccp_client_t *writer = zccp_client_new ();
    assert (writer);
    check (zccp_client_connect (writer, endpoint, timeout) == 0, "writer connect");
    check (zccp_client_publish (writer, "(HELLO, WORLD)", "TEST") == 0, "publish");
    check (zccp_client_publish (writer, "(HELLO, AGAIN)", "SECOND") == 0, "publish 2");

    char *content = zccp_client_recv (reader);
    check (content && streq (content, "TEST"), "first content");
    check (streq (zccp_client_content (reader), "TEST"), "content()");
    check (streq (zccp_client_address (reader), "(HELLO, WORLD)"), "address");
    check (streq (zccp_client_sender (reader), ""), "sender (anonymous writer)");
    //  Two matching expressions, one delivery: the next is the second message
    content = zccp_client_recv (reader);
    check (content && streq (content, "SECOND"), "no duplicate, second content");

    zccp_client_destroy (&writer);
    zccp_client_destroy (&reader);
    check (reader == NULL && writer == NULL, "destroy nullifies");
    printf ("original_api: %s\n", failures? "FAILED": "ok");
    return failures? 1: 0;
}
