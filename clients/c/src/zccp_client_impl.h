/*  zccp_client_impl.h - the handle's structure, shared by zccp_client.c
    and zccp_request.c (internal) */

#ifndef ZCCP_CLIENT_IMPL_H_INCLUDED
#define ZCCP_CLIENT_IMPL_H_INCLUDED

#include "zccp_internal.h"

typedef struct {
    char *method;               //  NULL: every method
    zccp_handler_fn *fn;
    void *arg;
} handler_t;

struct _zccp_client_t {
    zactor_t *actor;            //  commands out, events in
    zsock_t *cmd;               //  the actor's answers
    char *identifier;
    zhash_t *labels;
    int timeout;
    bool connected;             //  connect succeeded once
    zccp_wire_t *last;          //  last message
    char *content;              //  its first content frame as a string
    int status;
    char *reason;
    char *error;
    char *info_value;
    char prefix [16];           //  makes request ids unique across runs
    uint64_t seq;
    zlist_t *handlers;          //  handler_t
    zhash_t *answers;           //  recorded answers by "sender\x1fid" (zccp_request.c), NULL until one
    zlist_t *answered;          //  the same answers, oldest first (owned by answers)
    char curve [3][41];         //  server, public, secret key (Z85), "" without CURVE
};

int
    zccpi_status (zccp_client_t *self, int status, const char *code, const char *reason);
int
    zccpi_ask (zccp_client_t *self, zmsg_t *msg);
zmsg_t *
    zccpi_answer (zccp_client_t *self);
int
    zccpi_send (zccp_client_t *self, int id, const char *address,
                      zhash_t *headers, const char **extra, zmsg_t **content_p);
void
    zccpi_set_last (zccp_client_t *self, zccp_wire_t *wire);
//  Frees the record of answered requests
void
    zccpi_forget_answers (zccp_client_t *self);
//  Runs a handler for a request; true if the message was consumed.
bool
    zccpi_dispatch (zccp_client_t *self, zccp_wire_t *wire, int64_t arrived);

#endif
