/*  fake_broker.c - a hand-scripted ZCCP broker on a CZMQ ROUTER socket,
    for what a real zccpd does not do on demand: answer INVALID to a live
    session, never answer HELLO, refuse every HELLO. It counts what the
    client sends (HELLOs, SUBSCRIBEs, connections). */

#include "fake_broker.h"

typedef struct {
    int mode;
    zsock_t *router;
    zframe_t *last_peer;        //  routing id of the last sender
    zhashx_t *peers;            //  routing ids seen (as hex strings)
    int hellos;
    int subscribes;
    char last_expression [256];
} fake_t;

static void
s_reply (fake_t *self, zframe_t *peer, int id)
{
    //  HELLO-OK and GOODBYE-OK carry an (empty) dictionary
    byte with_dict [] = { 0xAA, 0xAA, (byte) id, 0, 0, 0, 0 };
    byte other [] = { 0xAA, 0xAA, (byte) id };
    zframe_t *copy = zframe_dup (peer);
    zframe_send (&copy, self->router, ZFRAME_MORE);
    if (id == 2 || id == 9)
        zsock_send (self->router, "b", with_dict, sizeof with_dict);
    else
        zsock_send (self->router, "b", other, sizeof other);
}

static void
s_on_client (fake_t *self)
{
    zmsg_t *msg = zmsg_recv (self->router);
    zframe_t *peer = zmsg_pop (msg);
    zframe_t *cmd = zmsg_first (msg);
    if (!peer || !cmd || zframe_size (cmd) < 3) {
        zframe_destroy (&peer);
        zmsg_destroy (&msg);
        return;
    }
    char *hex = zframe_strhex (peer);
    zhashx_update (self->peers, hex, (void *) 1);
    free (hex);
    byte *data = zframe_data (cmd);
    if (data [2] == 1) {                        //  HELLO
        self->hellos++;
        if (self->mode == FAKE_ANSWER)
            s_reply (self, peer, 2);
        else
        if (self->mode == FAKE_QUIET) {
            byte hello_ok [] = { 0xAA, 0xAA, 2, 0, 0, 0, 1, 12, 'z', 'c', 'c', 'p', '-', 't', 'i', 'm',
                                 'e', 'o', 'u', 't', 0, 0, 0, 3, '5', '0', '0' };
            zframe_t *copy = zframe_dup (peer);
            zframe_send (&copy, self->router, ZFRAME_MORE);
            zsock_send (self->router, "b", hello_ok, sizeof hello_ok);
        }
        else
        if (self->mode == FAKE_INVALID)
            s_reply (self, peer, 12);
    }
    else
    if (data [2] == 3 && zframe_size (cmd) > 3) {   //  SUBSCRIBE
        self->subscribes++;
        size_t n = data [3] < zframe_size (cmd) - 4? data [3]: zframe_size (cmd) - 4;
        memcpy (self->last_expression, data + 4, n);
        self->last_expression [n] = 0;
        s_reply (self, peer, 4);
    }
    else
    if (data [2] == 8)                          //  GOODBYE
        s_reply (self, peer, 9);
    zframe_destroy (&self->last_peer);
    self->last_peer = peer;
    zmsg_destroy (&msg);
}

static void
s_on_test (fake_t *self, zsock_t *pipe, bool *stop)
{
    char *command = zstr_recv (pipe);
    if (!command || streq (command, "$TERM"))
        *stop = true;
    else
    if (streq (command, "INVALID") && self->last_peer)
        s_reply (self, self->last_peer, 12);
    else
    if (streq (command, "COUNT"))
        zsock_send (pipe, "iiis", self->hellos, self->subscribes,
                    (int) zhashx_size (self->peers), self->last_expression);
    zstr_free (&command);
}

void
fake_broker_actor (zsock_t *pipe, void *args)
{
    fake_t self = { .mode = *(int *) args };
    self.router = zsock_new (ZMQ_ROUTER);
    self.peers = zhashx_new ();
    int port = zsock_bind (self.router, "tcp://127.0.0.1:*");
    zsock_signal (pipe, 0);
    zsock_send (pipe, "i", port);
    zpoller_t *poller = zpoller_new (pipe, self.router, NULL);
    bool stop = false;
    while (!stop) {
        void *which = zpoller_wait (poller, -1);
        if (which == self.router)
            s_on_client (&self);
        else
        if (which == pipe)
            s_on_test (&self, pipe, &stop);
        else
            break;
    }
    zpoller_destroy (&poller);
    zframe_destroy (&self.last_peer);
    zhashx_destroy (&self.peers);
    zsock_destroy (&self.router);
}

zactor_t *
fake_broker_new (int *mode, char *endpoint, size_t size)
{
    zactor_t *fake = zactor_new (fake_broker_actor, mode);
    int port = 0;
    zsock_recv (fake, "i", &port);
    snprintf (endpoint, size, "tcp://127.0.0.1:%d", port);
    return fake;
}

void
fake_broker_count (zactor_t *fake, int *hellos, int *subscribes, int *connections, char **expression)
{
    zstr_send (fake, "COUNT");
    char *e = NULL;
    zsock_recv (fake, "iiis", hellos, subscribes, connections, &e);
    if (expression)
        *expression = e;
    else
        zstr_free (&e);
}
