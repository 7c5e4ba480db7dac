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
s_send_raw (fake_t *self, const byte *data, size_t size)
{
    zframe_t *copy = zframe_dup (self->last_peer);
    zframe_send (&copy, self->router, ZFRAME_MORE);
    zsock_send (self->router, "b", data, size);
}

//  Malformed commands to the last peer: hand-picked ones, then count
//  random truncations and byte flips of a valid DELIVER (fixed seed), then
//  a valid DELIVER to address "after-garbage".
static void
s_garbage (fake_t *self, int count)
{
    //  DELIVER sender "s", address "a.b", one header h=v
    const byte valid [] = { 0xAA, 0xAA, 7, 1, 's', 3, 'a', '.', 'b', 0, 0, 0, 1,
                            1, 'h', 0, 0, 0, 1, 'v' };
    const byte bad_signature [] = { 0xAA, 0xAB, 7, 0, 0, 0, 0, 0, 0 };
    const byte unknown_id [] = { 0xAA, 0xAA, 99 };
    const byte huge_count [] = { 0xAA, 0xAA, 7, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF };
    const byte long_value [] = { 0xAA, 0xAA, 7, 0, 0, 0, 0, 0, 1, 1, 'h', 0x7F, 0xFF, 0xFF, 0xFF, 'v' };
    const byte trailing [] = { 0xAA, 0xAA, 4, 0 };
    s_send_raw (self, bad_signature, sizeof bad_signature);
    s_send_raw (self, unknown_id, sizeof unknown_id);
    s_send_raw (self, huge_count, sizeof huge_count);
    s_send_raw (self, long_value, sizeof long_value);
    s_send_raw (self, trailing, sizeof trailing);
    s_send_raw (self, valid, 2);
    s_send_raw (self, (const byte *) "", 0);
    uint32_t seed = 12345;
    for (int i = 0; i < count; i++) {
        byte buf [sizeof valid];
        memcpy (buf, valid, sizeof valid);
        seed = seed * 1103515245 + 12345;
        size_t size = 3 + (seed >> 16) % (sizeof valid - 3);
        seed = seed * 1103515245 + 12345;
        buf [3 + (seed >> 16) % (size - 3 > 0? size - 3: 1)] ^= (byte) (seed >> 8);
        s_send_raw (self, buf, size);
    }
    const byte after [] = { 0xAA, 0xAA, 7, 0, 13, 'a', 'f', 't', 'e', 'r', '-', 'g', 'a', 'r',
                            'b', 'a', 'g', 'e', 0, 0, 0, 0 };
    s_send_raw (self, after, sizeof after);
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
    if (streq (command, "GARBAGE") && self->last_peer)
        s_garbage (self, 2000);
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
    zsock_set_sndhwm (self.router, 0);      //  a ROUTER drops past it: send all
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
