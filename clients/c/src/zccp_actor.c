/*  zccp_actor.c - the client's actor: owns the DEALER socket and keeps the
    session alive (see the design notes in include/zccp.h).

    Session states:
      IDLE   not connected (before CONNECT, after a failed CONNECT)
      DOWN   socket connecting; no connection, or no HELLO sent on it yet
      HELLO  HELLO sent on the current connection, waiting for HELLO-OK
      LIVE   session established
      OVER   the identifier was taken over: stop for good
    HELLO goes out once per connection: when the monitor reports a new
    handshake, or after INVALID on a live session. Anything that reaches us
    while we wait for HELLO-OK (INVALID included) answers commands sent
    before our HELLO and is ignored.                                       */

#include "zccp_internal.h"

typedef enum { S_IDLE, S_DOWN, S_HELLO, S_LIVE, S_OVER } state_t;

#define HELLO_WAIT_MIN 3000     //  the original's presence timeout
#define HELLO_WAIT_MAX 30000
#define TICK 1000               //  longest poll without a timer check

//  One SUBSCRIBE on the wire whose SUBSCRIBE-OK is expected
typedef struct {
    char *expr;
    uint64_t seq;               //  the application call it answers, or 0
    bool cancel;
    char *code;                 //  notice that came for it before the OK
    char *reason;
} subwait_t;

typedef struct {
    zsock_t *pipe;              //  to the handle: commands in, events out
    zsock_t *cmd;               //  to the handle: command answers
    zsock_t *dealer;
    zsock_t *monitor;
    char *endpoint;
    char *curve [3];            //  server, public, secret key (Z85); NULL: NULL mechanism
    zframe_t *hello;
    bool verbose;
    bool terminated;
    state_t state;
    int timeout;                //  subscribe / goodbye bound
    int64_t last_recv;
    int64_t hello_deadline;
    int hello_wait;
    int64_t silence;            //  the broker's announced timeout, 0: none
    int64_t connect_deadline;   //  > 0 while CONNECT waits
    zlist_t *subs;              //  expressions held (char *)
    zlist_t *subq;              //  subwait_t FIFO
    uint64_t sub_seq;           //  application SUBSCRIBE waiting, or 0
    char *sub_expr;             //  its expression
    bool sub_cancel;            //  and whether it cancels
    uint64_t sub_next;
    int64_t sub_deadline;
    zlist_t *ctrlq;             //  protocol commands waiting for room
    zlist_t *outq;              //  application messages for the broker
    zlist_t *events;            //  messages for the application
    zhash_t *calls;             //  request id -> zlist_t of zmsg_t
    char *next_id;              //  application waiting in NEXT
    int64_t next_deadline;
    int64_t goodbye_deadline;   //  > 0 while GOODBYE waits
    zhash_t *info;              //  HELLO-OK headers
    uint64_t sessions;
    uint64_t dropped;
} actor_t;

static void
s_log (actor_t *self, const char *format, const char *arg)
{
    if (self->verbose)
        zsys_debug (format, arg? arg: "");
}

//  Sends a whole message without blocking; 0, or -1 if the socket would
//  block (the message is kept by the caller either way).
static int
s_try_send (zsock_t *sock, zmsg_t *msg)
{
    void *handle = zsock_resolve (sock);
    size_t count = zmsg_size (msg), index = 0;
    for (zframe_t *f = zmsg_first (msg); f; f = zmsg_next (msg), index++) {
        int flags = (index + 1 < count? ZMQ_SNDMORE: 0) | (index == 0? ZMQ_DONTWAIT: 0);
        //  An empty frame may have no buffer: give libzmq a valid one
        const void *data = zframe_size (f)? (const void *) zframe_data (f): (const void *) "";
        if (zmq_send (handle, data, zframe_size (f), flags) == -1) {
            assert (index == 0);    //  later parts of a message never block
            return -1;
        }
    }
    return 0;
}

//  Destroys a queue of messages.
static void
s_queue_free (void *queue)
{
    zlist_t *list = (zlist_t *) queue;
    zmsg_t *msg;
    while ((msg = (zmsg_t *) zlist_pop (list)))
        zmsg_destroy (&msg);
    zlist_destroy (&list);
}

//  Appends to a bounded queue: beyond the bound the oldest goes.
static void
s_enqueue (actor_t *self, zlist_t *queue, zmsg_t *msg)
{
    if (zlist_size (queue) >= ZCCP_QUEUE_MAX) {
        zmsg_t *old = (zmsg_t *) zlist_pop (queue);
        zmsg_destroy (&old);
        self->dropped++;
    }
    zlist_append (queue, msg);
}

static void
s_flush (actor_t *self, zsock_t *sock, zlist_t *queue)
{
    zmsg_t *msg;
    while ((msg = (zmsg_t *) zlist_first (queue)) && s_try_send (sock, msg) == 0) {
        zlist_pop (queue);
        zmsg_destroy (&msg);
    }
}

//  Protocol commands first; application messages only in a session.
static void
s_flush_broker (actor_t *self)
{
    if (!self->dealer)
        return;
    s_flush (self, self->dealer, self->ctrlq);
    if (self->state == S_LIVE && zlist_size (self->ctrlq) == 0)
        s_flush (self, self->dealer, self->outq);
}

//  A protocol command to the broker: before any application message, in
//  order, and never lost to a full socket (ctrlq waits for room; it
//  belongs to the current connection)
static void
s_send_command (actor_t *self, zframe_t *frame)
{
    if (!self->dealer || !frame) {
        zframe_destroy (&frame);
        return;
    }
    zmsg_t *msg = zmsg_new ();
    zmsg_append (msg, &frame);
    if (zlist_size (self->ctrlq) == 0 && s_try_send (self->dealer, msg) == 0)
        zmsg_destroy (&msg);
    else
        zlist_append (self->ctrlq, msg);
}

static void
s_answer (actor_t *self, int status, const char *code, const char *reason)
{
    zsock_send (self->cmd, "sss", status? "-1": "0", code? code: "", reason? reason: "");
}

//  ---------------------------------------------------------------------
//  Connection and session

static void
s_subwait_destroy (subwait_t **w_p)
{
    subwait_t *w = *w_p;
    if (w) {
        free (w->expr);
        free (w->code);
        free (w->reason);
        free (w);
        *w_p = NULL;
    }
}

static void
s_subq_clear (actor_t *self)
{
    subwait_t *w;
    while ((w = (subwait_t *) zlist_pop (self->subq)))
        s_subwait_destroy (&w);
}

static void
s_push_subscribe (actor_t *self, const char *expr, bool cancel, uint64_t seq)
{
    const char *extra [] = { "zccp-cancel", "1", NULL };
    zframe_t *frame = zccp_wire_frame (ZCCP_SUBSCRIBE, expr, NULL, NULL, cancel? extra: NULL);
    subwait_t *w = (subwait_t *) zmalloc (sizeof (subwait_t));
    assert (w);
    w->expr = strdup (expr);
    w->seq = seq;
    w->cancel = cancel;
    zlist_append (self->subq, w);
    s_send_command (self, frame);
}

static void
s_serve_next (actor_t *self);

//  The session is gone: tell every outstanding call.
static void
s_lost (actor_t *self, const char *why)
{
    s_log (self, "zccp: session lost: %s", why);
    s_subq_clear (self);
    for (zlist_t *q = (zlist_t *) zhash_first (self->calls); q;
         q = (zlist_t *) zhash_next (self->calls)) {
        zmsg_t *lost = zmsg_new ();
        zmsg_addstr (lost, "LOST");
        zlist_append (q, lost);
    }
    s_serve_next (self);
    if (self->state != S_IDLE && self->state != S_OVER)
        self->state = S_DOWN;
}

static void
s_close (actor_t *self)
{
    zmsg_t *msg;
    while ((msg = (zmsg_t *) zlist_pop (self->ctrlq)))
        zmsg_destroy (&msg);
    if (self->dealer)
        zmq_socket_monitor (zsock_resolve (self->dealer), NULL, 0);
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->dealer);
}

static int
s_open (actor_t *self)
{
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer)
        return -1;              //  the context is shutting down
    zsock_set_linger (self->dealer, 200);
    zsock_set_reconnect_ivl (self->dealer, 100);
    zsock_set_reconnect_ivl_max (self->dealer, 2000);
    zsock_set_heartbeat_ivl (self->dealer, 5000);
    zsock_set_heartbeat_timeout (self->dealer, 15000);
    if (self->curve [0]) {
        zsock_set_curve_serverkey (self->dealer, self->curve [0]);
        zsock_set_curve_publickey (self->dealer, self->curve [1]);
        zsock_set_curve_secretkey (self->dealer, self->curve [2]);
    }
    //  A name never used before in this process: a closed monitor's
    //  endpoint is released asynchronously, so reuse could collide
    static uint64_t monitors = 0;
    char name [64];
    snprintf (name, sizeof name, "inproc://zccp-monitor-%" PRIu64,
              __atomic_add_fetch (&monitors, 1, __ATOMIC_RELAXED));
    self->state = S_DOWN;
    self->last_recv = zccp_now ();
    self->monitor = zsock_new (ZMQ_PAIR);
    if (!self->monitor
    ||  zmq_socket_monitor (zsock_resolve (self->dealer), name,
                            ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED)
    ||  zsock_connect (self->monitor, "%s", name)
    ||  zsock_connect (self->dealer, "%s", self->endpoint)) {
        s_close (self);
        self->state = S_IDLE;
        return -1;
    }
    return 0;
}

//  Give up the current connection and open a new one.
static void
s_reconnect (actor_t *self, const char *why)
{
    s_lost (self, why);
    s_close (self);
    if (s_open (self))
        self->state = S_IDLE;
}

static void
s_say_hello (actor_t *self)
{
    s_log (self, "zccp: HELLO to %s", self->endpoint);
    s_send_command (self, zframe_dup (self->hello));
    self->state = S_HELLO;
    self->hello_deadline = zccp_now () + self->hello_wait;
}

static void
s_on_hello_ok (actor_t *self, zccp_wire_t *wire)
{
    self->state = S_LIVE;
    self->sessions++;
    self->hello_wait = HELLO_WAIT_MIN;
    zhash_destroy (&self->info);
    self->info = zhash_new ();
    zhash_autofree (self->info);
    for (size_t i = 0; i < wire->headers.count; i++)
        zhash_update (self->info, wire->headers.names [i], wire->headers.values [i]);
    const char *timeout = (const char *) zhash_lookup (self->info, "zccp-timeout");
    self->silence = timeout? atoll (timeout): 0;
    s_log (self, "zccp: HELLO-OK from %s", self->endpoint);
    if (self->connect_deadline) {
        self->connect_deadline = 0;
        s_answer (self, 0, NULL, NULL);
    }
    //  Renew every subscription, then what the application sent meanwhile
    for (char *e = (char *) zlist_first (self->subs); e; e = (char *) zlist_next (self->subs))
        s_push_subscribe (self, e, false, 0);
    //  An application SUBSCRIBE made without a session waits for its renewal
    if (self->sub_seq) {
        subwait_t *w = (subwait_t *) zlist_first (self->subq);
        for (; w && !streq (w->expr, self->sub_expr); w = (subwait_t *) zlist_next (self->subq));
        if (w && !self->sub_cancel)
            w->seq = self->sub_seq;
        else {
            self->sub_seq = 0;      //  a cancel: the new session has none
            s_answer (self, 0, NULL, NULL);
        }
    }
    s_flush_broker (self);
}

static void
s_on_subscribe_ok (actor_t *self)
{
    subwait_t *w = (subwait_t *) zlist_pop (self->subq);
    if (!w)
        return;
    if (w->code && !w->cancel) {
        char *e = (char *) zlist_first (self->subs);
        for (; e && !streq (e, w->expr); e = (char *) zlist_next (self->subs));
        if (e) {
            zlist_remove (self->subs, e);
            free (e);
        }
    }
    if (w->seq && w->seq == self->sub_seq) {
        self->sub_seq = 0;
        s_answer (self, w->code? -1: 0, w->code, w->reason);
    }
    s_subwait_destroy (&w);
}

//  ---------------------------------------------------------------------
//  Messages from the broker

static void
s_event (actor_t *self, zmsg_t *raw)
{
    zmsg_pushstrf (raw, "%" PRId64, zccp_now ());
    zmsg_pushstr (raw, "DELIVER");
    if (zlist_size (self->events) == 0 && s_try_send (self->pipe, raw) == 0)
        zmsg_destroy (&raw);
    else
        s_enqueue (self, self->events, raw);
}

static void
s_serve_next (actor_t *self)
{
    if (!self->next_id)
        return;
    zlist_t *q = (zlist_t *) zhash_lookup (self->calls, self->next_id);
    zmsg_t *msg = q? (zmsg_t *) zlist_pop (q): NULL;
    if (!msg && q)
        return;
    if (!msg) {
        msg = zmsg_new ();
        zmsg_addstr (msg, "LOST");
    }
    else
    if (!zframe_streq (zmsg_first (msg), "LOST"))
        zmsg_pushstr (msg, "REPLY");
    zmsg_send (&msg, self->cmd);
    zstr_free (&self->next_id);
}

//  A notice attached to the SUBSCRIBE it is about: true if there was one.
static bool
s_subscribe_notice (actor_t *self, zccp_wire_t *wire)
{
    const char *command = zccp_dict_get (&wire->headers, "zccp-command", NULL);
    const char *address = zccp_dict_get (&wire->headers, "zccp-address", NULL);
    if (!command || !streq (command, "SUBSCRIBE") || !address)
        return false;
    for (subwait_t *w = (subwait_t *) zlist_first (self->subq); w;
         w = (subwait_t *) zlist_next (self->subq))
        if (!w->code && streq (w->expr, address)) {
            const char *code = zccp_dict_get (&wire->headers, "zccp-error", NULL);
            const char *reason = zccp_dict_get (&wire->headers, "zccp-reason", NULL);
            w->code = strdup (code? code: "error");
            w->reason = strdup (reason? reason: "");
            return true;
        }
    return false;
}

static void
s_on_deliver (actor_t *self, zccp_wire_t *wire, zmsg_t *raw)
{
    const char *reply_to = zccp_dict_get (&wire->headers, "zccp-reply-to", NULL);
    zlist_t *q = reply_to? (zlist_t *) zhash_lookup (self->calls, reply_to): NULL;
    if (q) {
        zlist_append (q, raw);
        if (self->next_id && streq (self->next_id, reply_to))
            s_serve_next (self);
        return;
    }
    if (streq (wire->str1, "$zccp") && streq (wire->str2, "$zccp.error")) {
        const char *code = zccp_dict_get (&wire->headers, "zccp-error", NULL);
        if (s_subscribe_notice (self, wire)) {
            zmsg_destroy (&raw);
            return;
        }
        if (code && streq (code, "taken-over")) {
            s_lost (self, "taken over");
            self->state = S_OVER;
            s_close (self);
        }
        const char *command = zccp_dict_get (&wire->headers, "zccp-command", NULL);
        if (code && command && streq (command, "HELLO") && self->connect_deadline && self->state == S_HELLO) {
            //  HELLO refused (a CURVE key pending or not allowed this
            //  identifier, a reserved identifier): connect fails now
            self->connect_deadline = 0;
            s_lost (self, "HELLO refused");
            s_close (self);
            self->state = S_IDLE;
            const char *reason = zccp_dict_get (&wire->headers, "zccp-reason", NULL);
            s_answer (self, -1, code, reason? reason: "");
            zmsg_destroy (&raw);
            return;
        }
    }
    s_event (self, raw);
}

static void
s_on_broker (actor_t *self, zmsg_t *msg)
{
    self->last_recv = zccp_now ();
    zmsg_t *raw = zmsg_dup (msg);
    zccp_wire_t *wire = zccp_wire_decode (&msg);
    if (!wire) {
        s_log (self, "zccp: undecodable message from %s", self->endpoint);
        zmsg_destroy (&raw);
        return;
    }
    if (self->verbose)
        zsys_debug ("zccp: recv id=%d %s %s frames=%zu", wire->id, wire->str1? wire->str1: "",
                    wire->str2? wire->str2: "", zmsg_size (wire->content));
    switch (wire->id) {
        case ZCCP_HELLO_OK:
            if (self->state == S_HELLO)
                s_on_hello_ok (self, wire);
            break;
        case ZCCP_SUBSCRIBE_OK:
            if (self->state == S_LIVE)
                s_on_subscribe_ok (self);
            break;
        case ZCCP_DELIVER:
            s_on_deliver (self, wire, raw);
            raw = NULL;
            break;
        case ZCCP_PING:
            if (self->state == S_LIVE || self->state == S_HELLO)
                s_send_command (self, zccp_wire_frame (ZCCP_PING_OK, NULL, NULL, NULL, NULL));
            break;
        case ZCCP_GOODBYE_OK:
            if (self->goodbye_deadline) {
                self->goodbye_deadline = 0;
                self->state = S_DOWN;
                s_answer (self, 0, NULL, NULL);
            }
            break;
        case ZCCP_INVALID:
            s_log (self, "zccp: INVALID from %s", self->endpoint);
            if (self->state == S_LIVE || self->state == S_DOWN) {
                s_lost (self, "INVALID");
                s_say_hello (self);
            }
            break;
    }
    zmsg_destroy (&raw);
    zccp_wire_destroy (&wire);
}

static void
s_on_monitor (actor_t *self, zmsg_t *msg)
{
    zframe_t *f = zmsg_first (msg);
    uint16_t event = 0;
    if (f && zframe_size (f) >= sizeof event)
        memcpy (&event, zframe_data (f), sizeof event);
    zmsg_destroy (&msg);
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED && self->state == S_DOWN)
        s_say_hello (self);
    else
    if (event == ZMQ_EVENT_DISCONNECTED && (self->state == S_HELLO || self->state == S_LIVE))
        s_lost (self, "disconnected");
}

//  ---------------------------------------------------------------------
//  Commands from the handle

static void
s_curve_free (actor_t *self)
{
    for (int i = 0; i < 3; i++)
        if (self->curve [i]) {
            memset (self->curve [i], 0, strlen (self->curve [i]));
            zstr_free (&self->curve [i]);
        }
}

static void
s_cmd_connect (actor_t *self, zmsg_t *msg)
{
    char *endpoint = zmsg_popstr (msg);
    char *timeout = zmsg_popstr (msg);
    zframe_t *hello = zmsg_pop (msg);
    s_curve_free (self);
    for (int i = 0; i < 3; i++) {
        char *key = zmsg_popstr (msg);
        if (key && *key)
            self->curve [i] = key;
        else
            zstr_free (&key);
    }
    if (self->state != S_IDLE)
        s_answer (self, -1, "invalid-argument", "already connected");
    else {
        free (self->endpoint);
        self->endpoint = strdup (endpoint);
        zframe_destroy (&self->hello);
        self->hello = hello;
        hello = NULL;
        if (s_open (self))
            s_answer (self, -1, "invalid-argument", "bad endpoint");
        else
            self->connect_deadline = zccp_now () + atoi (timeout);
    }
    zframe_destroy (&hello);
    zstr_free (&endpoint);
    zstr_free (&timeout);
}

static void
s_cmd_subscribe (actor_t *self, zmsg_t *msg)
{
    char *expr = zmsg_popstr (msg);
    char *cancel = zmsg_popstr (msg);
    bool is_cancel = cancel && streq (cancel, "1");
    char *held = (char *) zlist_first (self->subs);
    for (; held && !streq (held, expr); held = (char *) zlist_next (self->subs));
    if (self->state == S_IDLE || self->state == S_OVER)
        s_answer (self, -1, "not-connected", "not connected");
    else {
        if (is_cancel && held) {
            zlist_remove (self->subs, held);
            free (held);
        }
        else
        if (!is_cancel && !held)
            zlist_append (self->subs, strdup (expr));
        self->sub_seq = ++self->sub_next;
        free (self->sub_expr);
        self->sub_expr = strdup (expr);
        self->sub_cancel = is_cancel;
        self->sub_deadline = zccp_now () + self->timeout;
        if (self->state == S_LIVE)
            s_push_subscribe (self, expr, is_cancel, self->sub_seq);
        //  else the next HELLO-OK renews it (or, for a cancel, answers)
    }
    zstr_free (&expr);
    zstr_free (&cancel);
}

static void
s_cmd_goodbye (actor_t *self, zmsg_t *msg)
{
    char *timeout = zmsg_popstr (msg);
    if (self->state != S_LIVE)
        s_answer (self, -1, "not-connected", "no session");
    else {
        zmsg_t *bye = zmsg_new ();
        zframe_t *frame = zccp_wire_frame (ZCCP_GOODBYE, NULL, NULL, NULL, NULL);
        zmsg_append (bye, &frame);
        s_enqueue (self, self->outq, bye);
        s_flush_broker (self);
        self->goodbye_deadline = zccp_now () + atoi (timeout);
    }
    zstr_free (&timeout);
}

static void
s_cmd_info (actor_t *self, zmsg_t *msg)
{
    char *name = zmsg_popstr (msg);
    const char *value = self->info && name? (const char *) zhash_lookup (self->info, name): NULL;
    zsock_send (self->cmd, "ss", value? "1": "0", value? value: "");
    zstr_free (&name);
}

static void
s_on_command (actor_t *self, zmsg_t *msg)
{
    char *command = zmsg_popstr (msg);
    if (!command) {
        zmsg_destroy (&msg);
        return;
    }
    if (streq (command, "$TERM"))
        self->terminated = true;
    else
    if (streq (command, "VERBOSE"))
        self->verbose = true;
    else
    if (streq (command, "TIMEOUT")) {
        char *t = zmsg_popstr (msg);
        self->timeout = atoi (t);
        zstr_free (&t);
    }
    else
    if (streq (command, "CONNECT"))
        s_cmd_connect (self, msg);
    else
    if (streq (command, "SUBSCRIBE"))
        s_cmd_subscribe (self, msg);
    else
    if (streq (command, "SEND")) {
        s_enqueue (self, self->outq, msg);
        msg = NULL;
        s_flush_broker (self);
    }
    else
    if (streq (command, "CALL")) {
        char *id = zmsg_popstr (msg);
        zlist_t *q = zlist_new ();
        zhash_update (self->calls, id, q);
        zhash_freefn (self->calls, id, s_queue_free);
        zstr_free (&id);
    }
    else
    if (streq (command, "NEXT")) {
        zstr_free (&self->next_id);
        self->next_id = zmsg_popstr (msg);
        char *t = zmsg_popstr (msg);
        int timeout = atoi (t);
        self->next_deadline = timeout < 0? INT64_MAX: zccp_now () + timeout;
        zstr_free (&t);
        s_serve_next (self);
    }
    else
    if (streq (command, "FORGET")) {
        char *id = zmsg_popstr (msg);
        zhash_delete (self->calls, id);
        zstr_free (&id);
    }
    else
    if (streq (command, "GOODBYE"))
        s_cmd_goodbye (self, msg);
    else
    if (streq (command, "STATE"))
        zsock_send (self->cmd, "s88", self->state == S_LIVE? "1": "0",
                    self->sessions, self->dropped);
    else
    if (streq (command, "INFO"))
        s_cmd_info (self, msg);
    zstr_free (&command);
    zmsg_destroy (&msg);
}

//  ---------------------------------------------------------------------
//  Timers

static void
s_timers (actor_t *self)
{
    int64_t now = zccp_now ();
    if (self->connect_deadline && now >= self->connect_deadline) {
        self->connect_deadline = 0;
        s_lost (self, "connect timed out");
        s_close (self);
        self->state = S_IDLE;
        s_answer (self, -1, ZCCP_ANSWER_TIMEOUT, "no HELLO-OK within the connect timeout");
        return;
    }
    if (self->state == S_HELLO && now >= self->hello_deadline) {
        self->hello_wait = self->hello_wait * 2 > HELLO_WAIT_MAX? HELLO_WAIT_MAX: self->hello_wait * 2;
        s_reconnect (self, "no HELLO-OK");
    }
    if (self->state == S_LIVE && self->silence > 0 && now - self->last_recv > self->silence)
        s_reconnect (self, "broker silent past its timeout");
    if (self->sub_seq && now >= self->sub_deadline) {
        self->sub_seq = 0;
        s_answer (self, -1, ZCCP_ANSWER_TIMEOUT, "no SUBSCRIBE-OK in time");
    }
    if (self->next_id && now >= self->next_deadline) {
        zstr_free (&self->next_id);
        zstr_send (self->cmd, "TIMEOUT");
    }
    if (self->goodbye_deadline && now >= self->goodbye_deadline) {
        self->goodbye_deadline = 0;
        s_answer (self, -1, ZCCP_ANSWER_TIMEOUT, "no GOODBYE-OK in time");
    }
}

static long
s_poll_timeout (actor_t *self)
{
    int64_t now = zccp_now (), next = now + TICK;
    int64_t deadlines [] = {
        self->connect_deadline,
        self->state == S_HELLO? self->hello_deadline: 0,
        self->state == S_LIVE && self->silence? self->last_recv + self->silence + 1: 0,
        self->sub_seq? self->sub_deadline: 0,
        self->next_id? self->next_deadline: 0,
        self->goodbye_deadline
    };
    for (size_t i = 0; i < sizeof deadlines / sizeof deadlines [0]; i++)
        if (deadlines [i] && deadlines [i] < next)
            next = deadlines [i];
    return next > now? (long) (next - now): 0;
}

//  ---------------------------------------------------------------------
//  The loop

static actor_t *
s_actor_new (zsock_t *pipe, zsock_t *cmd)
{
    actor_t *self = (actor_t *) zmalloc (sizeof (actor_t));
    assert (self);
    self->pipe = pipe;
    self->cmd = cmd;
    self->timeout = 5000;
    self->hello_wait = HELLO_WAIT_MIN;
    self->subs = zlist_new ();
    self->subq = zlist_new ();
    self->outq = zlist_new ();
    self->ctrlq = zlist_new ();
    self->events = zlist_new ();
    self->calls = zhash_new ();
    return self;
}

static void
s_actor_destroy (actor_t **self_p)
{
    actor_t *self = *self_p;
    s_close (self);
    zlist_destroy (&self->ctrlq);
    s_subq_clear (self);
    zlist_destroy (&self->subq);
    char *expr;
    while ((expr = (char *) zlist_pop (self->subs)))
        free (expr);
    zlist_destroy (&self->subs);
    s_queue_free (self->outq);
    s_queue_free (self->events);
    zhash_destroy (&self->calls);
    zhash_destroy (&self->info);
    zframe_destroy (&self->hello);
    zsock_destroy (&self->cmd);
    free (self->endpoint);
    s_curve_free (self);
    free (self->next_id);
    free (self->sub_expr);
    free (self);
    *self_p = NULL;
}

//  Reads whatever a socket has ready (at most a batch, to stay fair).
static void
s_drain (actor_t *self, zsock_t **sock_p, void (*handler) (actor_t *, zmsg_t *))
{
    for (int n = 0; n < 100 && *sock_p && (zsock_events (*sock_p) & ZMQ_POLLIN); n++) {
        zmsg_t *msg = zmsg_recv (*sock_p);
        if (!msg)
            break;
        handler (self, msg);    //  takes the message
    }
}

void
zccp_actor (zsock_t *pipe, void *args)
{
    actor_t *self = s_actor_new (pipe, (zsock_t *) args);
    zsock_signal (pipe, 0);
    while (!self->terminated) {
        zmq_pollitem_t items [3] = {
            { zsock_resolve (pipe), 0, ZMQ_POLLIN | (zlist_size (self->events)? ZMQ_POLLOUT: 0), 0 }
        };
        int count = 1;
        if (self->dealer) {
            items [count++] = (zmq_pollitem_t) { zsock_resolve (self->monitor), 0, ZMQ_POLLIN, 0 };
            bool out = zlist_size (self->ctrlq) || (self->state == S_LIVE && zlist_size (self->outq));
            items [count++] = (zmq_pollitem_t) { zsock_resolve (self->dealer), 0,
                                                 ZMQ_POLLIN | (out? ZMQ_POLLOUT: 0), 0 };
        }
        if (zmq_poll (items, count, s_poll_timeout (self)) == -1 && errno != EINTR)
            break;              //  context terminated
        //  Connection events first: they precede anything the new
        //  connection brought
        s_drain (self, &self->monitor, s_on_monitor);
        s_drain (self, &self->dealer, s_on_broker);
        s_drain (self, &self->pipe, s_on_command);
        s_flush_broker (self);
        s_flush (self, self->pipe, self->events);
        s_timers (self);
    }
    s_actor_destroy (&self);
}
