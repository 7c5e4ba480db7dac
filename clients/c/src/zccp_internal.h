/*  zccp_internal.h - what the client handle and its actor share */

#ifndef ZCCP_INTERNAL_H_INCLUDED
#define ZCCP_INTERNAL_H_INCLUDED

#include "../include/zccp.h"
#include "zccp_wire.h"

//  The actor: owns the DEALER. args is the actor's end of the command
//  answer pipe (a zsock_t *, taken).
void
    zccp_actor (zsock_t *pipe, void *args);

//  Frames the handle and the actor exchange (first frame of each message).
//  Handle -> actor, on the actor pipe:
//    CONNECT endpoint timeout hello-frame   answered: status code reason
//    SUBSCRIBE expression cancel(0|1)       answered: status code reason
//    SEND wire-frames...                    (no answer)
//    CALL id                                (no answer) route replies to id
//    NEXT id timeout                        answered: REPLY wire-frames... |
//                                           TIMEOUT | LOST
//    FORGET id                              (no answer)
//    GOODBYE timeout                        answered: status code reason
//    STATE                                  answered: connected sessions dropped
//    INFO name                              answered: value ("" if none)
//    VERBOSE, TIMEOUT msecs                 (no answer)
//  Actor -> handle, on the actor pipe (what polling sees):
//    DELIVER arrival-msecs wire-frames...
#define ZCCP_ANSWER_TIMEOUT "timeout"
#define ZCCP_ANSWER_LOST    "connection-lost"

//  Most messages the actor keeps for the application, and for the broker
//  while there is no session; beyond, the oldest notification is dropped.
#define ZCCP_QUEUE_MAX 100000

#endif
