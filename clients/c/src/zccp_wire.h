/*  zccp_wire.h - ZCCP/1 frame 1 encoding and decoding (internal)
    See docs/protocol.md sections 2 and 3. */

#ifndef ZCCP_WIRE_H_INCLUDED
#define ZCCP_WIRE_H_INCLUDED

#include <czmq.h>

enum {
    ZCCP_HELLO = 1, ZCCP_HELLO_OK, ZCCP_SUBSCRIBE, ZCCP_SUBSCRIBE_OK,
    ZCCP_PUBLISH, ZCCP_DIRECT, ZCCP_DELIVER, ZCCP_GOODBYE, ZCCP_GOODBYE_OK,
    ZCCP_PING, ZCCP_PING_OK, ZCCP_INVALID
};

#define ZCCP_MAX_STRING 255

//  A decoded headers dictionary: values are byte strings, kept with a
//  terminating NUL so that text values can be used as C strings.
typedef struct {
    size_t count;
    char **names;
    char **values;
    size_t *sizes;
} zccp_dict_t;

//  A decoded message from the broker (or, in tests, to it).
typedef struct {
    int id;
    char *str1;             //  identifier, expression, address or sender
    char *str2;             //  DELIVER: address
    zccp_dict_t headers;
    zmsg_t *content;        //  content frames (possibly none)
} zccp_wire_t;

//  Decode a whole message; takes it. NULL when it is malformed.
zccp_wire_t *
    zccp_wire_decode (zmsg_t **msg_p);
void
    zccp_wire_destroy (zccp_wire_t **self_p);

//  Value of a header or NULL; size (may be NULL) gets its length.
const char *
    zccp_dict_get (zccp_dict_t *self, const char *name, size_t *size);

//  Frame 1 of a command: str1/str2 as the command needs them, headers
//  from a zhash_t of strings (may be NULL) plus "extra" name/value pairs
//  (NULL-terminated array, may be NULL) that win over the zhash's. NULL
//  when a string is longer than 255 bytes.
zframe_t *
    zccp_wire_frame (int id, const char *str1, const char *str2,
                     zhash_t *headers, const char **extra);

//  Milliseconds on the monotonic clock.
int64_t
    zccp_now (void);

#endif
