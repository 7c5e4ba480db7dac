/*  fake_broker.h - a scripted ZCCP broker for the recovery tests */

#ifndef FAKE_BROKER_H_INCLUDED
#define FAKE_BROKER_H_INCLUDED

#include <czmq.h>

enum {
    FAKE_ANSWER,        //  HELLO-OK, SUBSCRIBE-OK; INVALID when told
    FAKE_SILENT,        //  never answers HELLO
    FAKE_INVALID,       //  answers every HELLO with INVALID
    FAKE_QUIET          //  HELLO-OK announcing zccp-timeout 500, then silence
};

//  Starts one on a free tcp port of 127.0.0.1 (its endpoint in endpoint);
//  mode must outlive it.
zactor_t *fake_broker_new (int *mode, char *endpoint, size_t size);
void fake_broker_actor (zsock_t *pipe, void *args);
//  What clients sent so far; expression (if not NULL) gets the last
//  SUBSCRIBE's expression, to free.
void fake_broker_count (zactor_t *fake, int *hellos, int *subscribes, int *connections, char **expression);

#endif
