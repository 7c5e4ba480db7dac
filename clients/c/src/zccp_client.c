/*  zccp_client.c - the application's handle: the original API, publishing,
    receiving and the last message's fields. Requests are in
    zccp_request.c, the actor in zccp_actor.c. */

#include "zccp_client_impl.h"

zccp_client_t *
zccp_client_new (void)
{
    zccp_client_t *self = (zccp_client_t *) zmalloc (sizeof (zccp_client_t));
    assert (self);
    zsock_t *backend;
    self->cmd = zsys_create_pipe (&backend);
    assert (self->cmd);
    self->actor = zactor_new (zccp_actor, backend);
    assert (self->actor);
    self->identifier = strdup ("");
    self->labels = zhash_new ();
    zhash_autofree (self->labels);
    self->handlers = zlist_new ();
    self->timeout = 5000;
    self->reason = strdup ("");
    self->error = strdup ("");
    self->content = strdup ("");
    uint64_t r [2];
    zuuid_t *uuid = zuuid_new ();
    memcpy (r, zuuid_data (uuid), sizeof r);
    zuuid_destroy (&uuid);
    snprintf (self->prefix, sizeof self->prefix, "%012" PRIx64 "-", (uint64_t) (r [0] & 0xFFFFFFFFFFFFull));
    return self;
}

void
zccp_client_destroy (zccp_client_t **self_p)
{
    assert (self_p);
    zccp_client_t *self = *self_p;
    if (!self)
        return;
    if (self->connected) {
        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, "GOODBYE");
        zmsg_addstrf (msg, "%d", self->timeout < 1000? self->timeout: 1000);
        zccpi_ask (self, msg);
    }
    zactor_destroy (&self->actor);
    zsock_destroy (&self->cmd);
    zccp_wire_destroy (&self->last);
    zhash_destroy (&self->labels);
    handler_t *h;
    while ((h = (handler_t *) zlist_pop (self->handlers))) {
        free (h->method);
        free (h);
    }
    zlist_destroy (&self->handlers);
    zccpi_forget_answers (self);
    free (self->identifier);
    free (self->reason);
    free (self->error);
    free (self->content);
    free (self->info_value);
    memset (self->curve, 0, sizeof self->curve);
    free (self);
    *self_p = NULL;
}

void
zccp_client_verbose (zccp_client_t *self)
{
    zstr_send (self->actor, "VERBOSE");
}

zactor_t *
zccp_client_actor (zccp_client_t *self)
{
    return self->actor;
}

void
zccp_client_set_identifier (zccp_client_t *self, const char *identifier)
{
    free (self->identifier);
    self->identifier = strdup (identifier? identifier: "");
}

void
zccp_client_set_label (zccp_client_t *self, const char *name, const char *value)
{
    zhash_update (self->labels, name, (void *) value);
}

void
zccp_client_set_timeout (zccp_client_t *self, int timeout)
{
    self->timeout = timeout;
    zstr_sendm (self->actor, "TIMEOUT");
    zstr_sendf (self->actor, "%d", timeout);
}

//  ---------------------------------------------------------------------
//  Status

int
zccpi_status (zccp_client_t *self, int status, const char *code, const char *reason)
{
    self->status = status;
    free (self->error);
    free (self->reason);
    self->error = strdup (code? code: "");
    self->reason = strdup (reason? reason: "");
    return status;
}

int
zccp_client_status (zccp_client_t *self)
{
    return self->status;
}

char *
zccp_client_reason (zccp_client_t *self)
{
    return self->reason;
}

const char *
zccp_client_error (zccp_client_t *self)
{
    return self->error;
}

//  Sends a command to the actor and reads its "status code reason" answer.
int
zccpi_ask (zccp_client_t *self, zmsg_t *msg)
{
    zmsg_send (&msg, self->actor);
    zmsg_t *answer = zccpi_answer (self);
    if (!answer)
        return zccpi_status (self, -1, "interrupted", "context terminated");
    char *status = zmsg_popstr (answer);
    char *code = zmsg_popstr (answer);
    char *reason = zmsg_popstr (answer);
    int rc = zccpi_status (self, status && streq (status, "0")? 0: -1, code, reason);
    zstr_free (&status);
    zstr_free (&code);
    zstr_free (&reason);
    zmsg_destroy (&answer);
    return rc;
}

//  The actor's answer to the last command. It always answers (each wait it
//  does is bounded), so a signal only restarts the read.
zmsg_t *
zccpi_answer (zccp_client_t *self)
{
    zmsg_t *answer;
    while (!(answer = zmsg_recv (self->cmd)))
        if (errno == ETERM)
            return NULL;
    return answer;
}

//  ---------------------------------------------------------------------
//  Connection

static bool
s_z85_key (const char *key)
{
    uint8_t raw [32];
    return key && strlen (key) == 40 && zmq_z85_decode (raw, key) != NULL;
}

int
zccp_client_set_curve (zccp_client_t *self, const char *server_key,
                       const char *public_key, const char *secret_key)
{
    if (!zsys_has_curve ())
        return zccpi_status (self, -1, "invalid-argument", "libzmq was built without CURVE");
    if (!s_z85_key (server_key) || !s_z85_key (public_key) || !s_z85_key (secret_key))
        return zccpi_status (self, -1, "invalid-argument", "a CURVE key is 40 Z85 characters");
    snprintf (self->curve [0], sizeof self->curve [0], "%s", server_key);
    snprintf (self->curve [1], sizeof self->curve [1], "%s", public_key);
    snprintf (self->curve [2], sizeof self->curve [2], "%s", secret_key);
    return zccpi_status (self, 0, NULL, NULL);
}

int
zccp_client_set_curve_cert (zccp_client_t *self, const char *server_key, const char *cert_path)
{
    zcert_t *cert = cert_path? zcert_load (cert_path): NULL;
    if (!cert)
        return zccpi_status (self, -1, "invalid-argument", "no CURVE certificate at that path");
    int rc = zccp_client_set_curve (self, server_key, zcert_public_txt (cert), zcert_secret_txt (cert));
    zcert_destroy (&cert);
    return rc;
}

int
zccp_client_connect (zccp_client_t *self, const char *endpoint, int timeout)
{
    //  A client with handlers declares it serves requests: that makes it a
    //  member of group requests (docs/protocol.md 6.7)
    const char *serves [] = { "zccp-serves", "1", NULL };
    zframe_t *hello = zccp_wire_frame (ZCCP_HELLO, self->identifier, NULL, self->labels,
                                       zlist_size (self->handlers)? serves: NULL);
    if (!hello || !endpoint) {
        zframe_destroy (&hello);
        return zccpi_status (self, -1, "invalid-argument",
                                       "identifier, label name or endpoint too long or missing");
    }
    if (strncmp (endpoint, "curve+", 6) == 0) {
        endpoint += 6;
        if (!*self->curve [0]) {
            zframe_destroy (&hello);
            return zccpi_status (self, -1, "invalid-argument",
                                 "a curve+ endpoint needs zccp_client_set_curve first");
        }
    }
    else
    if (strncmp (endpoint, "null+", 5) == 0)
        endpoint += 5;
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "CONNECT");
    zmsg_addstr (msg, endpoint);
    zmsg_addstrf (msg, "%d", timeout);
    zmsg_append (msg, &hello);
    for (int i = 0; i < 3; i++)
        zmsg_addstr (msg, self->curve [i]);
    int rc = zccpi_ask (self, msg);
    if (rc == 0)
        self->connected = true;
    return rc;
}

static uint64_t
s_state (zccp_client_t *self, int which)
{
    zstr_send (self->actor, "STATE");
    char *connected = NULL;
    uint64_t values [3] = { 0, 0, 0 };
    while (zsock_recv (self->cmd, "s88", &connected, &values [1], &values [2]) == -1)
        if (errno == ETERM)
            return 0;
    values [0] = connected && streq (connected, "1");
    zstr_free (&connected);
    return values [which];
}

bool
zccp_client_connected (zccp_client_t *self)
{
    return s_state (self, 0) == 1;
}

uint64_t
zccp_client_sessions (zccp_client_t *self)
{
    return s_state (self, 1);
}

uint64_t
zccp_client_dropped (zccp_client_t *self)
{
    return s_state (self, 2);
}

const char *
zccp_client_server_info (zccp_client_t *self, const char *name)
{
    zstr_sendm (self->actor, "INFO");
    zstr_send (self->actor, name);
    zmsg_t *answer = zccpi_answer (self);
    char *found = answer? zmsg_popstr (answer): NULL;
    char *value = answer? zmsg_popstr (answer): NULL;
    zmsg_destroy (&answer);
    free (self->info_value);
    self->info_value = found && streq (found, "1")? value: NULL;
    if (!self->info_value)
        zstr_free (&value);
    zstr_free (&found);
    return self->info_value;
}

static int
s_subscribe (zccp_client_t *self, const char *expression, bool cancel)
{
    if (!expression || strlen (expression) > ZCCP_MAX_STRING)
        return zccpi_status (self, -1, "invalid-argument", "expression missing or over 255 bytes");
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "SUBSCRIBE");
    zmsg_addstr (msg, expression);
    zmsg_addstr (msg, cancel? "1": "0");
    return zccpi_ask (self, msg);
}

int
zccp_client_subscribe (zccp_client_t *self, const char *expression)
{
    return s_subscribe (self, expression, false);
}

int
zccp_client_unsubscribe (zccp_client_t *self, const char *expression)
{
    return s_subscribe (self, expression, true);
}

//  ---------------------------------------------------------------------
//  Sending

int
zccpi_send (zccp_client_t *self, int id, const char *address,
                  zhash_t *headers, const char **extra, zmsg_t **content_p)
{
    zmsg_t *content = content_p? *content_p: NULL;
    if (content_p)
        *content_p = NULL;
    zframe_t *frame = address? zccp_wire_frame (id, address, NULL, headers, extra): NULL;
    if (!frame || !self->connected) {
        zmsg_destroy (&content);
        zframe_destroy (&frame);
        if (!self->connected)
            return zccpi_status (self, -1, "not-connected", "connect first");
        return zccpi_status (self, -1, "invalid-argument",
                                       "address missing, or a string over 255 bytes");
    }
    zmsg_t *msg = content? content: zmsg_new ();
    zmsg_prepend (msg, &frame);
    zmsg_pushstr (msg, "SEND");
    zmsg_send (&msg, self->actor);
    return zccpi_status (self, 0, NULL, NULL);
}

int
zccp_client_publish (zccp_client_t *self, const char *address, const char *content)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, content? content: "");
    return zccpi_send (self, ZCCP_PUBLISH, address, NULL, NULL, &msg);
}

int
zccp_client_publish_msg (zccp_client_t *self, const char *address,
                         zhash_t *headers, zmsg_t **content_p)
{
    return zccpi_send (self, ZCCP_PUBLISH, address, headers, NULL, content_p);
}

int
zccp_client_direct (zccp_client_t *self, const char *identifier,
                    zhash_t *headers, zmsg_t **content_p)
{
    return zccpi_send (self, ZCCP_DIRECT, identifier, headers, NULL, content_p);
}

//  ---------------------------------------------------------------------
//  Receiving

//  Makes a decoded DELIVER the last message (taken).
void
zccpi_set_last (zccp_client_t *self, zccp_wire_t *wire)
{
    zccp_wire_destroy (&self->last);
    self->last = wire;
    free (self->content);
    zframe_t *first = zmsg_first (wire->content);
    self->content = first? zframe_strdup (first): strdup ("");
}

static char s_empty [1];

char *
zccp_client_sender (zccp_client_t *self)
{
    return self->last? self->last->str1: s_empty;
}

char *
zccp_client_address (zccp_client_t *self)
{
    return self->last? self->last->str2: s_empty;
}

char *
zccp_client_content (zccp_client_t *self)
{
    return self->content;
}

zmsg_t *
zccp_client_body (zccp_client_t *self)
{
    return self->last? self->last->content: NULL;
}

const char *
zccp_client_header (zccp_client_t *self, const char *name)
{
    return self->last? zccp_dict_get (&self->last->headers, name, NULL): NULL;
}

size_t
zccp_client_header_size (zccp_client_t *self, const char *name)
{
    size_t size = 0;
    if (self->last)
        zccp_dict_get (&self->last->headers, name, &size);
    return size;
}

size_t
zccp_client_header_count (zccp_client_t *self)
{
    return self->last? self->last->headers.count: 0;
}

const char *
zccp_client_header_name (zccp_client_t *self, size_t index)
{
    return self->last && index < self->last->headers.count? self->last->headers.names [index]: NULL;
}

//  A message from the actor's pipe: a request for a handler, or the next
//  message for the application (1), or nothing usable (0).
static int
s_on_event (zccp_client_t *self, zmsg_t *msg)
{
    char *kind = zmsg_popstr (msg);
    char *arrival = zmsg_popstr (msg);
    int64_t arrived = arrival? atoll (arrival): zccp_now ();
    bool deliver = kind && streq (kind, "DELIVER");
    zstr_free (&kind);
    zstr_free (&arrival);
    zccp_wire_t *wire = deliver? zccp_wire_decode (&msg): NULL;
    zmsg_destroy (&msg);
    if (!wire)
        return 0;
    if (zccpi_dispatch (self, wire, arrived)) {
        zccp_wire_destroy (&wire);
        return 0;
    }
    bool notice = streq (wire->str1, "$zccp") && streq (wire->str2, "$zccp.error");
    const char *code = notice? zccp_dict_get (&wire->headers, "zccp-error", NULL): NULL;
    const char *reason = notice? zccp_dict_get (&wire->headers, "zccp-reason", NULL): NULL;
    zccpi_status (self, notice? -1: 0, notice? (code? code: "error"): NULL, reason);
    zccpi_set_last (self, wire);
    return 1;
}

//  Longest single poll: a signal may be caught by another thread (the
//  actor's, libzmq's), so zsys_interrupted is checked at least this often.
#define WAIT_SLICE 100

int
zccp_client_wait (zccp_client_t *self, int timeout)
{
    int64_t deadline = timeout < 0? INT64_MAX: zccp_now () + timeout;
    while (!zsys_interrupted) {
        int64_t left = deadline - zccp_now ();
        zmq_pollitem_t item = { zsock_resolve (self->actor), 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, left < 0? 0: left > WAIT_SLICE? WAIT_SLICE: (long) left);
        if (rc == -1 && errno != EINTR)
            break;              //  the context is terminated
        if (rc == 1) {
            zmsg_t *msg = zmsg_recv (self->actor);
            if (msg && s_on_event (self, msg))
                return 0;
        }
        if (zccp_now () >= deadline)
            return zccpi_status (self, -1, "timeout", "no message in time");
    }
    return zccpi_status (self, -1, "interrupted", "interrupted");
}

char *
zccp_client_recv (zccp_client_t *self)
{
    return zccp_client_wait (self, -1) == 0? self->content: NULL;
}
