/*  zccp_request.c - requests (docs/protocol.md 6.7): the requester side
    for one device and for a group, and the device side (handlers). */

#include "zccp_client_impl.h"

struct _zccp_group_t {
    zccp_client_t *client;
    char *id;
    char **expected;            //  the receipt's roll call
    size_t count;
    zhash_t *waiting;           //  identifier -> size_t * answers still due
    size_t left, ok, failed, missing;
    int timeout;
    int64_t deadline;
    bool done;
};

struct _zccp_request_t {
    zccp_client_t *client;
    zccp_wire_t *wire;
    const char *id;
    const char *method;
    int64_t deadline;           //  INT64_MAX without a TTL
    zmsg_t *reply;
    char *code;                 //  set: an error reply
    char *reason;
};

//  ---------------------------------------------------------------------
//  Requester side

static void
s_new_id (zccp_client_t *self, char *id, size_t size)
{
    snprintf (id, size, "%s%" PRIu64, self->prefix, ++self->seq);
}

static void
s_call (zccp_client_t *self, const char *command, const char *id)
{
    zstr_sendm (self->actor, command);
    zstr_send (self->actor, id);
}

static void
s_cancel (zccp_client_t *self, const char *identifier, const char *id)
{
    const char *extra [] = { "zccp-cancel-request", id, NULL };
    zccpi_send (self, ZCCP_DIRECT, identifier, NULL, extra, NULL);
}

//  The next reply to id within timeout msecs (-1: no bound). Returns the
//  decoded reply, or NULL with the status set ("timeout",
//  "connection-lost").
static zccp_wire_t *
s_next (zccp_client_t *self, const char *id, int64_t timeout)
{
    zstr_sendm (self->actor, "NEXT");
    zstr_sendm (self->actor, id);
    zstr_sendf (self->actor, "%" PRId64, timeout < 0? (int64_t) -1: timeout);
    zmsg_t *answer = zccpi_answer (self);
    char *kind = answer? zmsg_popstr (answer): NULL;
    zccp_wire_t *wire = NULL;
    if (kind && streq (kind, "REPLY"))
        wire = zccp_wire_decode (&answer);
    else
    if (kind && streq (kind, "TIMEOUT"))
        zccpi_status (self, -1, ZCCP_ANSWER_TIMEOUT, "no reply in time");
    else
        zccpi_status (self, -1, ZCCP_ANSWER_LOST, "the session was lost before the reply");
    zstr_free (&kind);
    zmsg_destroy (&answer);
    return wire;
}

static bool
s_is_progress (zccp_wire_t *wire)
{
    const char *status = zccp_dict_get (&wire->headers, "zccp-status", NULL);
    return status && streq (status, "progress");
}

//  Makes a reply the last message and sets the status from it.
static int
s_take_reply (zccp_client_t *self, zccp_wire_t *wire)
{
    const char *status = zccp_dict_get (&wire->headers, "zccp-status", NULL);
    const char *code = zccp_dict_get (&wire->headers, "zccp-error", NULL);
    const char *reason = zccp_dict_get (&wire->headers, "zccp-reason", NULL);
    bool ok = status && streq (status, "ok");
    zccpi_status (self, ok? 0: -1, ok? NULL: (code? code: "error"), ok? NULL: reason);
    zccpi_set_last (self, wire);
    return self->status;
}

static int
s_check_requester (zccp_client_t *self, const char *method)
{
    if (!self->connected)
        return zccpi_status (self, -1, "not-connected", "connect first");
    if (!*self->identifier)
        return zccpi_status (self, -1, "invalid-argument",
                                       "requests need an identifier (replies are DIRECTs to it)");
    if (!method || !*method)
        return zccpi_status (self, -1, "invalid-argument", "method missing");
    return 0;
}

int
zccp_client_request (zccp_client_t *self, const char *identifier, const char *method,
                     zhash_t *headers, zmsg_t **content_p, int timeout)
{
    if (s_check_requester (self, method)) {
        if (content_p)
            zmsg_destroy (content_p);
        return -1;
    }
    char id [64], ttl [24];
    s_new_id (self, id, sizeof id);
    snprintf (ttl, sizeof ttl, "%d", timeout > 0? timeout: 1);
    const char *extra [] = { "zccp-request-id", id, "zccp-method", method,
                             timeout > 0? "zccp-ttl": NULL, ttl, NULL };
    s_call (self, "CALL", id);
    if (zccpi_send (self, ZCCP_DIRECT, identifier, headers, extra, content_p)) {
        s_call (self, "FORGET", id);
        return -1;
    }
    int rc = -1;
    while (true) {
        zccp_wire_t *reply = s_next (self, id, timeout > 0? timeout: -1);
        if (!reply) {
            if (streq (self->error, ZCCP_ANSWER_TIMEOUT))
                s_cancel (self, identifier, id);
            break;
        }
        if (s_is_progress (reply)) {
            zccp_wire_destroy (&reply);
            continue;           //  the device is alive: the timeout restarts
        }
        rc = s_take_reply (self, reply);
        break;
    }
    s_call (self, "FORGET", id);
    return rc;
}

static bool
s_supports (zccp_client_t *self, const char *extension)
{
    const char *list = zccp_client_server_info (self, "zccp-extensions");
    if (!list)
        return false;
    size_t n = strlen (extension);
    for (const char *p = list; (p = strstr (p, extension)); p += n)
        if ((p == list || p [-1] == ',') && (p [n] == 0 || p [n] == ','))
            return true;
    return false;
}

static zccp_group_t *
s_group_new (zccp_client_t *self, const char *id, zccp_wire_t *receipt, int timeout)
{
    zccp_group_t *g = (zccp_group_t *) zmalloc (sizeof (zccp_group_t));
    assert (g);
    g->client = self;
    g->id = strdup (id);
    g->timeout = timeout;
    g->deadline = timeout > 0? zccp_now () + timeout: INT64_MAX;
    //  zccp-recipients says how many frames name recipients (with none,
    //  the receipt carries one empty frame that names nobody)
    const char *recipients = zccp_dict_get (&receipt->headers, "zccp-recipients", NULL);
    g->count = recipients? (size_t) atoll (recipients): zmsg_size (receipt->content);
    if (g->count > zmsg_size (receipt->content))
        g->count = zmsg_size (receipt->content);
    g->expected = (char **) calloc (g->count + 1, sizeof (char *));
    g->waiting = zhash_new ();
    size_t i = 0;
    zframe_t *f = zmsg_first (receipt->content);
    for (; f && i < g->count; f = zmsg_next (receipt->content)) {
        g->expected [i++] = zframe_strdup (f);
        size_t *due = (size_t *) zhash_lookup (g->waiting, g->expected [i - 1]);
        if (!due) {
            due = (size_t *) zmalloc (sizeof (size_t));
            zhash_insert (g->waiting, g->expected [i - 1], due);
            zhash_freefn (g->waiting, g->expected [i - 1], free);
        }
        (*due)++;
    }
    g->left = g->count;
    return g;
}

//  Waits for the receipt; NULL with the status set when there is none.
static zccp_wire_t *
s_receipt (zccp_client_t *self, const char *id, int timeout)
{
    zccp_wire_t *wire = s_next (self, id, timeout > 0? timeout: -1);
    if (!wire)
        return NULL;
    if (streq (wire->str1, "$zccp") && streq (wire->str2, "$zccp.receipt"))
        return wire;
    if (s_take_reply (self, wire) == 0)     //  not a receipt, yet ok?
        zccpi_status (self, -1, "error", "group request answered without a receipt");
    return NULL;
}

zccp_group_t *
zccp_client_group (zccp_client_t *self, const char *address, const char *method,
                   const char *select, zhash_t *headers, zmsg_t **content_p,
                   int timeout, bool dry_run)
{
    bool bad = s_check_requester (self, method) != 0;
    if (!bad && (!address || (!*address && (!select || !*select))))
        bad = zccpi_status (self, -1, "invalid-argument", "a group needs an address or labels");
    if (!bad && !s_supports (self, "requests"))
        bad = zccpi_status (self, -1, "not-supported", "the broker has no group requests");
    if (bad) {
        if (content_p)
            zmsg_destroy (content_p);
        return NULL;
    }
    char id [64], ttl [24];
    s_new_id (self, id, sizeof id);
    snprintf (ttl, sizeof ttl, "%d", timeout > 0? timeout: 1);
    const char *extra [12] = { "zccp-request-id", id, "zccp-method", method };
    size_t n = 4;
    if (timeout > 0) {
        extra [n++] = "zccp-ttl";
        extra [n++] = ttl;
    }
    if (select && *select) {
        extra [n++] = "zccp-select";
        extra [n++] = select;
    }
    if (dry_run) {
        extra [n++] = "zccp-dry-run";
        extra [n++] = "1";
    }
    s_call (self, "CALL", id);
    zccp_wire_t *receipt = NULL;
    if (zccpi_send (self, ZCCP_PUBLISH, address, headers, extra, content_p) == 0)
        receipt = s_receipt (self, id, timeout);
    if (!receipt) {
        s_call (self, "FORGET", id);
        return NULL;
    }
    zccp_group_t *g = s_group_new (self, id, receipt, timeout);
    zccp_wire_destroy (&receipt);
    zccpi_status (self, 0, NULL, NULL);
    if (dry_run || g->count == 0) {
        g->missing = dry_run? g->count: 0;
        g->left = 0;
        g->done = true;
        s_call (self, "FORGET", id);
    }
    return g;
}

size_t
zccp_group_expected (zccp_group_t *self)
{
    return self->count;
}

const char *
zccp_group_recipient (zccp_group_t *self, size_t index)
{
    return index < self->count? self->expected [index]: NULL;
}

//  The call is over: whoever has not answered is missing, and told to stop.
static void
s_group_end (zccp_group_t *self)
{
    self->missing = self->left;
    for (size_t *due = (size_t *) zhash_first (self->waiting); due;
         due = (size_t *) zhash_next (self->waiting))
        if (*due)
            s_cancel (self->client, zhash_cursor (self->waiting), self->id);
    self->left = 0;
    self->done = true;
    s_call (self->client, "FORGET", self->id);
}

int
zccp_group_next (zccp_group_t *self)
{
    zccp_client_t *client = self->client;
    while (!self->done) {
        int64_t left = self->deadline == INT64_MAX? -1: self->deadline - zccp_now ();
        zccp_wire_t *reply = s_next (client, self->id, left < 0 && self->deadline != INT64_MAX? 0: left);
        if (!reply) {
            s_group_end (self);
            break;
        }
        if (s_is_progress (reply)) {
            if (self->timeout > 0)
                self->deadline = zccp_now () + self->timeout;
            zccp_wire_destroy (&reply);
            continue;
        }
        //  The broker answers for a device it could not reach
        const char *from = streq (reply->str1, "$zccp")?
            zccp_dict_get (&reply->headers, "zccp-recipient", NULL): reply->str1;
        size_t *due = from? (size_t *) zhash_lookup (self->waiting, from): NULL;
        if (!due || *due == 0) {
            zccp_wire_destroy (&reply);
            continue;           //  not on the roll call, or answered already
        }
        (*due)--;
        self->left--;
        if (s_take_reply (client, reply) == 0)
            self->ok++;
        else
            self->failed++;
        if (self->left == 0) {
            self->done = true;
            s_call (client, "FORGET", self->id);
        }
        return 0;
    }
    return -1;
}

size_t
zccp_group_ok (zccp_group_t *self)
{
    return self->ok;
}

size_t
zccp_group_failed (zccp_group_t *self)
{
    return self->failed;
}

size_t
zccp_group_missing (zccp_group_t *self)
{
    return self->missing;
}

void
zccp_group_destroy (zccp_group_t **self_p)
{
    zccp_group_t *self = *self_p;
    if (!self)
        return;
    if (!self->done)
        s_group_end (self);
    for (size_t i = 0; i < self->count; i++)
        free (self->expected [i]);
    free (self->expected);
    zhash_destroy (&self->waiting);
    free (self->id);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Device side

void
zccp_client_handle (zccp_client_t *self, const char *method,
                    zccp_handler_fn *handler, void *arg)
{
    handler_t *h = (handler_t *) zmalloc (sizeof (handler_t));
    assert (h);
    h->method = method? strdup (method): NULL;
    h->fn = handler;
    h->arg = arg;
    zlist_append (self->handlers, h);
}

static handler_t *
s_handler_for (zccp_client_t *self, const char *method)
{
    handler_t *fallback = NULL;
    for (handler_t *h = (handler_t *) zlist_first (self->handlers); h;
         h = (handler_t *) zlist_next (self->handlers)) {
        if (h->method && streq (h->method, method))
            return h;
        if (!h->method && !fallback)
            fallback = h;
    }
    return fallback;
}

const char *
zccp_request_method (zccp_request_t *self)
{
    return self->method;
}

const char *
zccp_request_sender (zccp_request_t *self)
{
    return self->wire->str1;
}

const char *
zccp_request_id (zccp_request_t *self)
{
    return self->id;
}

const char *
zccp_request_header (zccp_request_t *self, const char *name)
{
    return zccp_dict_get (&self->wire->headers, name, NULL);
}

zmsg_t *
zccp_request_content (zccp_request_t *self)
{
    return self->wire->content;
}

int64_t
zccp_request_remaining (zccp_request_t *self)
{
    if (self->deadline == INT64_MAX)
        return -1;
    int64_t left = self->deadline - zccp_now ();
    return left > 0? left: 0;
}

void
zccp_request_reply (zccp_request_t *self, zmsg_t **content_p)
{
    zmsg_destroy (&self->reply);
    self->reply = *content_p;
    *content_p = NULL;
}

void
zccp_request_fail (zccp_request_t *self, const char *code, const char *reason)
{
    free (self->code);
    free (self->reason);
    self->code = strdup (code? code: "device-error");
    self->reason = strdup (reason? reason: "");
}

//  Answers the request in wire (reply headers + content, taken).
static int
s_answer (zccp_client_t *self, zccp_wire_t *wire, const char *status,
          const char *code, const char *reason, zmsg_t **content_p)
{
    const char *id = zccp_dict_get (&wire->headers, "zccp-request-id", NULL);
    const char *extra [] = { "zccp-reply-to", id, "zccp-status", status,
                             code? "zccp-error": NULL, code, "zccp-reason", reason? reason: "", NULL };
    return zccpi_send (self, ZCCP_DIRECT, wire->str1, NULL, extra, content_p);
}

int
zccp_request_progress (zccp_request_t *self)
{
    return s_answer (self->client, self->wire, "progress", NULL, NULL, NULL);
}

int
zccp_client_reply (zccp_client_t *self, const char *status, const char *code,
                   const char *reason, zmsg_t **content_p)
{
    if (!self->last || !zccp_dict_get (&self->last->headers, "zccp-request-id", NULL)) {
        if (content_p)
            zmsg_destroy (content_p);
        return zccpi_status (self, -1, "invalid-argument", "the last message is no request");
    }
    bool ok = status && streq (status, "ok");
    return s_answer (self, self->last, ok? "ok": "error", ok? NULL: (code? code: "device-error"),
                     ok? NULL: reason, content_p);
}

//  The record of answered requests: a retry (same requester and request
//  id) within ANSWER_WINDOW ms is answered from it, not run again. At
//  most ANSWER_MAX answers are kept, oldest forgotten first (as the Go,
//  Python and Java clients).
#define ANSWER_WINDOW (10 * 60 * 1000)
#define ANSWER_MAX 10000

typedef struct {
    int64_t at;
    char *key;                  //  "sender\x1fid"
    char *code;                 //  NULL: ok
    char *reason;
    zmsg_t *content;            //  NULL: none
} answer_t;

static void
s_answer_free (void *data)
{
    answer_t *a = (answer_t *) data;
    free (a->key);
    free (a->code);
    free (a->reason);
    zmsg_destroy (&a->content);
    free (a);
}

void
zccpi_forget_answers (zccp_client_t *self)
{
    zlist_destroy (&self->answered);
    zhash_destroy (&self->answers);
}

static char *
s_answer_key (zccp_wire_t *wire, const char *id)
{
    char *key = (char *) zmalloc (strlen (wire->str1) + strlen (id) + 2);
    assert (key);
    sprintf (key, "%s\x1f%s", wire->str1, id);
    return key;
}

//  Records the handler's answer to req (before it is sent: content is
//  copied) and forgets what is past the window or the count.
static void
s_record (zccp_client_t *self, zccp_request_t *req)
{
    if (!self->answers) {
        self->answers = zhash_new ();
        self->answered = zlist_new ();
        assert (self->answers && self->answered);
    }
    answer_t *a = (answer_t *) zmalloc (sizeof (answer_t));
    assert (a);
    a->at = zccp_now ();
    a->key = s_answer_key (req->wire, req->id);
    a->code = req->code? strdup (req->code): NULL;
    a->reason = req->reason? strdup (req->reason): NULL;
    a->content = req->reply? zmsg_dup (req->reply): NULL;
    if (zhash_insert (self->answers, a->key, a) != 0) {
        s_answer_free (a);      //  cannot happen: a retry never runs
        return;
    }
    zhash_freefn (self->answers, a->key, s_answer_free);
    zlist_append (self->answered, a);
    answer_t *old;
    while ((old = (answer_t *) zlist_first (self->answered))
       &&  (zlist_size (self->answered) > ANSWER_MAX || a->at - old->at >= ANSWER_WINDOW)) {
        zlist_pop (self->answered);
        char *key = strdup (old->key);
        zhash_delete (self->answers, key);      //  frees old
        free (key);
    }
}

//  Answers a retry from the record; false if req is no retry.
static bool
s_replay (zccp_client_t *self, zccp_wire_t *wire, const char *id)
{
    if (!self->answers)
        return false;
    char *key = s_answer_key (wire, id);
    answer_t *a = (answer_t *) zhash_lookup (self->answers, key);
    free (key);
    if (!a || zccp_now () - a->at >= ANSWER_WINDOW)
        return false;
    zmsg_t *content = a->content? zmsg_dup (a->content): NULL;
    int status = self->status;
    s_answer (self, wire, a->code? "error": "ok", a->code, a->reason, &content);
    self->status = status;
    return true;
}

static void
s_run (zccp_client_t *self, zccp_request_t *req, handler_t *h)
{
    if (zccp_request_remaining (req) == 0)
        zccp_request_fail (req, "expired", "the request's TTL ran out before it started");
    else
    if (!h)
        zccp_request_fail (req, "no-such-method", "this device has no handler for the method");
    else {
        if (h->fn (req, h->arg) != 0 && !req->code)
            zccp_request_fail (req, "device-error", "the handler failed");
        if (req->code)
            zmsg_destroy (&req->reply);
        s_record (self, req);   //  only what a handler answered: a refusal gets a fresh chance
    }
    if (req->code)
        zmsg_destroy (&req->reply);
    int status = self->status;      //  the application's view stays as it was
    s_answer (self, req->wire, req->code? "error": "ok", req->code, req->reason, &req->reply);
    self->status = status;
}

bool
zccpi_dispatch (zccp_client_t *self, zccp_wire_t *wire, int64_t arrived)
{
    if (zlist_size (self->handlers) == 0)
        return false;
    if (zccp_dict_get (&wire->headers, "zccp-cancel-request", NULL))
        return true;            //  handlers run to the end: nothing to stop
    const char *id = zccp_dict_get (&wire->headers, "zccp-request-id", NULL);
    const char *method = zccp_dict_get (&wire->headers, "zccp-method", NULL);
    if (!id || !method || streq (wire->str1, "$zccp"))
        return false;
    if (s_replay (self, wire, id))
        return true;
    const char *ttl = zccp_dict_get (&wire->headers, "zccp-ttl", NULL);
    zccp_request_t req = { self, wire, id, method,
                           ttl? arrived + atoll (ttl): INT64_MAX, NULL, NULL, NULL };
    s_run (self, &req, s_handler_for (self, method));
    zmsg_destroy (&req.reply);
    free (req.code);
    free (req.reason);
    return true;
}
