/*  =========================================================================
    zccp.h - libzccp, the C client of the ZeroMQ Command & Control Protocol

    An application written against the original C client (zccp_client_new,
    _connect, _subscribe, _publish, _recv, ...) compiles against this header
    and runs unchanged. Everything after "Extensions" is new and follows
    docs/protocol.md of this repository.

    Design
    ------
    A client is a CZMQ actor (zactor) that owns the DEALER socket, plus a
    thin handle used by ONE application thread. The actor thread does
    everything time-critical by itself, whatever the application is doing:
      * HELLO on every new connection (seen through a socket monitor), and
        again once after INVALID; never a second HELLO on one connection
        (no HELLO storm): a session that gets no HELLO-OK is abandoned by
        opening a new connection, with a doubling delay (3 s .. 30 s);
      * re-SUBSCRIBE of every expression after a new HELLO-OK, then the
        application's messages held while there was no session;
      * PING -> PING-OK, ZMTP heartbeats, and a new connection when the
        broker has been silent longer than the timeout it announced;
      * replies routed to the request that waits for them.
    So a slow application, or a request handler slower than the broker's
    timeout, never loses the session. The original API's blocking shape is
    kept: calls that need an answer (connect, subscribe, request, ...)
    block the calling thread until the actor answers or their timeout ends.

    Poll contract: zccp_client_actor() is readable exactly when a message
    is waiting (zpoller_add (poller, zccp_client_actor (client))); then call
    zccp_client_wait (client, 0). Request handlers run inside _recv and
    _wait, on the application's thread. Command answers travel on a second
    internal pipe, so polling the actor never sees them.

    Threads: one application thread per client (the handle is not
    thread-safe; use one client per thread).

    Strings returned by the client are owned by it and valid until the next
    call that receives (recv, wait, request, group_next) or destroy.
    =========================================================================
*/

#ifndef ZCCP_H_INCLUDED
#define ZCCP_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZCCP_VERSION_MAJOR 1
#define ZCCP_VERSION_MINOR 0
#define ZCCP_VERSION_PATCH 0

typedef struct _zccp_client_t zccp_client_t;
typedef struct _zccp_request_t zccp_request_t;
typedef struct _zccp_group_t zccp_group_t;

//  ---------------------------------------------------------------------
//  The original API

//  Create a client, not yet connected.
zccp_client_t *
    zccp_client_new (void);

//  Say GOODBYE (if connected, waiting at most 1 s for GOODBYE-OK) and free.
void
    zccp_client_destroy (zccp_client_t **self_p);

//  Trace the protocol (zsys_debug lines) from now on.
void
    zccp_client_verbose (zccp_client_t *self);

//  The actor behind the client, for polling (see "Poll contract").
zactor_t *
    zccp_client_actor (zccp_client_t *self);

//  Connect to the broker and say HELLO; return 0 once HELLO-OK arrived,
//  -1 if none within timeout msecs (the client is then disconnected).
int
    zccp_client_connect (zccp_client_t *self, const char *endpoint, int timeout);

//  Subscribe to the addresses the zrex expression matches; 0 on
//  SUBSCRIBE-OK, -1 on a refusal (e.g. bad-expression) or no answer.
//  Subscriptions survive lost sessions: the client renews them.
int
    zccp_client_subscribe (zccp_client_t *self, const char *expression);

//  Publish one notification with one content frame (unconfirmed); 0, or
//  -1 if the address is too long or connect never succeeded. While a lost
//  session is being renewed, messages wait in the actor (bounded) and go
//  out once it is.
int
    zccp_client_publish (zccp_client_t *self, const char *address, const char *content);

//  Wait for the next message and return its first content frame as a
//  string ("" when it has none); NULL when interrupted. A broker notice
//  comes here too, with sender "$zccp", status -1 and the reason set.
char *
    zccp_client_recv (zccp_client_t *self);

//  Fields of the last message received.
char *
    zccp_client_sender (zccp_client_t *self);
char *
    zccp_client_address (zccp_client_t *self);
char *
    zccp_client_content (zccp_client_t *self);

//  Status (0 ok, -1 failed) and reason ("" when ok) of the last call or
//  message.
int
    zccp_client_status (zccp_client_t *self);
char *
    zccp_client_reason (zccp_client_t *self);

//  ---------------------------------------------------------------------
//  Extensions

//  Identifier and labels for HELLO; call before connect. The identifier
//  makes the client addressable by DIRECT and requests.
void
    zccp_client_set_identifier (zccp_client_t *self, const char *identifier);
void
    zccp_client_set_label (zccp_client_t *self, const char *name, const char *value);

//  CURVE (docs/protocol.md 1.1), for a broker endpoint bound as
//  curve+tcp://...: server_key is the broker's public key (what `zccpd
//  key` prints), public_key and secret_key this client's pair
//  (zmq_curve_keypair, zcert_new), each as 40 Z85 characters; call before
//  connect. 0, or -1 with error "invalid-argument" (a key that is not 40
//  Z85 characters, a libzmq without CURVE). The endpoint may then be given
//  as "curve+tcp://..." or plain "tcp://..."; a curve+ endpoint without
//  these keys is refused by connect. On a broker with --enrol, connect
//  fails at once with error "not-authorized" while the key is pending (the
//  reason says so) or may not use the identifier.
int
    zccp_client_set_curve (zccp_client_t *self, const char *server_key,
                           const char *public_key, const char *secret_key);
//  The same with this client's key pair read from a CZMQ certificate file
//  (zcert_load; the file `zccp keygen` writes).
int
    zccp_client_set_curve_cert (zccp_client_t *self, const char *server_key,
                                const char *cert_path);

//  Bound, in msecs, of subscribe and unsubscribe (default 5000); destroy
//  waits for GOODBYE-OK at most the smaller of this and 1000.
void
    zccp_client_set_timeout (zccp_client_t *self, int timeout);

//  Error code of the last failure: a broker or device code ("no-such-client",
//  "expired", "device-error", ...) or one of the client's own: "timeout",
//  "connection-lost", "not-connected", "interrupted", "invalid-argument",
//  "taken-over". "" when the last call succeeded.
const char *
    zccp_client_error (zccp_client_t *self);

//  True while a session is established.
bool
    zccp_client_connected (zccp_client_t *self);

//  How many sessions were (re)established, and how many notifications the
//  client itself dropped because the application did not read them.
uint64_t
    zccp_client_sessions (zccp_client_t *self);
uint64_t
    zccp_client_dropped (zccp_client_t *self);

//  A HELLO-OK header of the broker (zccp-version, ...), or NULL.
const char *
    zccp_client_server_info (zccp_client_t *self, const char *name);

//  Cancel a subscription.
int
    zccp_client_unsubscribe (zccp_client_t *self, const char *expression);

//  PUBLISH / DIRECT with headers (a zhash_t of strings, may be NULL; not
//  taken) and any number of content frames (taken and destroyed, may be
//  NULL for none). 0, or -1 on bad arguments or without connect.
int
    zccp_client_publish_msg (zccp_client_t *self, const char *address,
                             zhash_t *headers, zmsg_t **content_p);
int
    zccp_client_direct (zccp_client_t *self, const char *identifier,
                        zhash_t *headers, zmsg_t **content_p);

//  Wait up to timeout msecs (-1: forever, 0: poll) for the next message,
//  running request handlers meanwhile. 0: a message is the "last message";
//  -1: none (error "timeout" or "interrupted").
int
    zccp_client_wait (zccp_client_t *self, int timeout);

//  More of the last message: all content frames (owned by the client), a
//  header's value (NUL-terminated; header_size gives its real length,
//  which may include NULs) and the header names in order.
zmsg_t *
    zccp_client_body (zccp_client_t *self);
const char *
    zccp_client_header (zccp_client_t *self, const char *name);
size_t
    zccp_client_header_size (zccp_client_t *self, const char *name);
size_t
    zccp_client_header_count (zccp_client_t *self);
const char *
    zccp_client_header_name (zccp_client_t *self, size_t index);

//  Request to one device: send method to identifier and wait up to timeout
//  msecs (also sent as the command's TTL) for the final reply, which then
//  is the last message. 0 when the device answered ok; -1 otherwise, with
//  zccp_client_error: the device's code, the broker's (no-such-client,
//  expired, disconnected, ...) or "timeout" / "connection-lost". Progress
//  reports restart the timeout.
int
    zccp_client_request (zccp_client_t *self, const char *identifier,
                         const char *method, zhash_t *headers,
                         zmsg_t **content_p, int timeout);

//  Request to a group: every device subscribed to an expression matching
//  address and carrying all labels of select ("k=v,k2=v2", or NULL).
//  Returns once the broker's receipt arrived (NULL on failure: see status,
//  reason, error); then zccp_group_next until it returns -1.
zccp_group_t *
    zccp_client_group (zccp_client_t *self, const char *address,
                       const char *method, const char *select,
                       zhash_t *headers, zmsg_t **content_p, int timeout,
                       bool dry_run);

//  Recipients the broker routed the request to (its receipt).
size_t
    zccp_group_expected (zccp_group_t *self);
const char *
    zccp_group_recipient (zccp_group_t *self, size_t index);

//  Next final reply (0: it is the client's last message, sender = the
//  device, status/error say how it went) or -1 when every recipient
//  answered or the timeout ran out.
int
    zccp_group_next (zccp_group_t *self);

//  The account, complete after zccp_group_next returned -1:
//  ok + failed + missing == expected.
size_t
    zccp_group_ok (zccp_group_t *self);
size_t
    zccp_group_failed (zccp_group_t *self);
size_t
    zccp_group_missing (zccp_group_t *self);

//  Forget the call (devices still working on it are told to cancel).
void
    zccp_group_destroy (zccp_group_t **self_p);

//  Device side. Register handlers before connect: a client that has one
//  at HELLO declares zccp-serves: 1 and so is a member of group requests
//  (to the groups its subscriptions match). A handler runs for each request whose method it serves
//  (method NULL: every method) inside recv/wait. It sets the reply with
//  zccp_request_reply / _fail and returns 0, or returns -1 for a
//  device-error. Requests whose TTL ran out are answered "expired"
//  without running; methods without a handler "no-such-method" (once any
//  handler is registered). A retry (same requester and request id) within
//  10 minutes is answered from the record of the handler's answer (at most
//  10,000 kept) without running again. With no handler at all, requests
//  reach the application as messages; answer them with zccp_client_reply.
typedef int (zccp_handler_fn) (zccp_request_t *request, void *arg);
void
    zccp_client_handle (zccp_client_t *self, const char *method,
                        zccp_handler_fn *handler, void *arg);

//  Fields of a request being handled.
const char *
    zccp_request_method (zccp_request_t *self);
const char *
    zccp_request_sender (zccp_request_t *self);
const char *
    zccp_request_id (zccp_request_t *self);
const char *
    zccp_request_header (zccp_request_t *self, const char *name);
zmsg_t *
    zccp_request_content (zccp_request_t *self);
//  Msecs left of the request's TTL; -1 without one.
int64_t
    zccp_request_remaining (zccp_request_t *self);
//  Reply content (taken), status ok. Calling it again replaces it.
void
    zccp_request_reply (zccp_request_t *self, zmsg_t **content_p);
//  Error reply with this code and reason.
void
    zccp_request_fail (zccp_request_t *self, const char *code, const char *reason);
//  Send a progress report now (restarts the requester's timeout).
int
    zccp_request_progress (zccp_request_t *self);

//  Answer the last message (a request) by hand: status "ok" or "error"
//  (then code and reason), content taken. 0, or -1 if it was no request.
int
    zccp_client_reply (zccp_client_t *self, const char *status, const char *code,
                       const char *reason, zmsg_t **content_p);

#ifdef __cplusplus
}
#endif

#endif
