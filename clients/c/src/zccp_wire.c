/*  zccp_wire.c - ZCCP/1 frame 1 encoding and decoding
    string  = 1 octet length + octets; longstr = 4 octets (big-endian)
    length + octets; dictionary = 4 octets count + count x (string name,
    longstr value); msg = the frames after frame 1. */

#include "zccp_wire.h"

#define F_STR1 1
#define F_STR2 2
#define F_DICT 4
#define F_MSG  8

//  The fields each command carries, by id.
static int
s_fields (int id)
{
    switch (id) {
        case ZCCP_HELLO:      return F_STR1 | F_DICT;
        case ZCCP_HELLO_OK:   return F_DICT;
        case ZCCP_SUBSCRIBE:  return F_STR1 | F_DICT;
        case ZCCP_PUBLISH:    return F_STR1 | F_DICT | F_MSG;
        case ZCCP_DIRECT:     return F_STR1 | F_DICT | F_MSG;
        case ZCCP_DELIVER:    return F_STR1 | F_STR2 | F_DICT | F_MSG;
        case ZCCP_GOODBYE_OK: return F_DICT;
        default:              return 0;
    }
}

int64_t
zccp_now (void)
{
    return zclock_mono ();
}

//  ---------------------------------------------------------------------
//  Decoding

typedef struct {
    const byte *ptr;
    const byte *end;
} reader_t;

static bool
s_need (reader_t *r, size_t n)
{
    return (size_t) (r->end - r->ptr) >= n;
}

static uint32_t
s_get32 (reader_t *r)
{
    uint32_t v = ((uint32_t) r->ptr [0] << 24) | ((uint32_t) r->ptr [1] << 16)
               | ((uint32_t) r->ptr [2] << 8) | r->ptr [3];
    r->ptr += 4;
    return v;
}

//  A copy of n bytes with a terminating NUL.
static char *
s_copy (reader_t *r, size_t n)
{
    char *s = (char *) malloc (n + 1);
    assert (s);
    memcpy (s, r->ptr, n);
    s [n] = 0;
    r->ptr += n;
    return s;
}

static char *
s_get_string (reader_t *r)
{
    if (!s_need (r, 1))
        return NULL;
    size_t n = *r->ptr++;
    return s_need (r, n)? s_copy (r, n): NULL;
}

static void
s_dict_free (zccp_dict_t *d)
{
    for (size_t i = 0; i < d->count; i++) {
        free (d->names [i]);
        free (d->values [i]);
    }
    free (d->names);
    free (d->values);
    free (d->sizes);
    memset (d, 0, sizeof (*d));
}

static int
s_get_dict (reader_t *r, zccp_dict_t *d)
{
    if (!s_need (r, 4))
        return -1;
    uint32_t count = s_get32 (r);
    //  Each pair takes at least 5 octets: refuse counts the frame cannot hold
    if (count > (size_t) (r->end - r->ptr) / 5)
        return -1;
    d->names = (char **) calloc (count + 1, sizeof (char *));
    d->values = (char **) calloc (count + 1, sizeof (char *));
    d->sizes = (size_t *) calloc (count + 1, sizeof (size_t));
    assert (d->names && d->values && d->sizes);
    for (uint32_t i = 0; i < count; i++) {
        char *name = s_get_string (r);
        if (!name)
            return -1;
        if (!s_need (r, 4)) {
            free (name);
            return -1;
        }
        size_t size = s_get32 (r);
        if (!s_need (r, size)) {
            free (name);
            return -1;
        }
        d->names [d->count] = name;
        d->sizes [d->count] = size;
        d->values [d->count] = s_copy (r, size);
        d->count++;
    }
    return 0;
}

zccp_wire_t *
zccp_wire_decode (zmsg_t **msg_p)
{
    assert (msg_p);
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    if (!msg)
        return NULL;
    zframe_t *first = zmsg_pop (msg);
    zccp_wire_t *self = (zccp_wire_t *) zmalloc (sizeof (zccp_wire_t));
    assert (self);
    self->content = msg;
    if (!first || zframe_size (first) < 3)
        goto malformed;
    reader_t r = { zframe_data (first), zframe_data (first) + zframe_size (first) };
    if (r.ptr [0] != 0xAA || r.ptr [1] != 0xAA)
        goto malformed;
    self->id = r.ptr [2];
    r.ptr += 3;
    if (self->id < ZCCP_HELLO || self->id > ZCCP_INVALID)
        goto malformed;
    int fields = s_fields (self->id);
    if ((fields & F_STR1) && !(self->str1 = s_get_string (&r)))
        goto malformed;
    if ((fields & F_STR2) && !(self->str2 = s_get_string (&r)))
        goto malformed;
    if ((fields & F_DICT) && s_get_dict (&r, &self->headers))
        goto malformed;
    if (r.ptr != r.end || (!(fields & F_MSG) && zmsg_size (msg) > 0))
        goto malformed;
    zframe_destroy (&first);
    return self;
malformed:
    zframe_destroy (&first);
    zccp_wire_destroy (&self);
    return NULL;
}

void
zccp_wire_destroy (zccp_wire_t **self_p)
{
    assert (self_p);
    zccp_wire_t *self = *self_p;
    if (!self)
        return;
    free (self->str1);
    free (self->str2);
    s_dict_free (&self->headers);
    zmsg_destroy (&self->content);
    free (self);
    *self_p = NULL;
}

const char *
zccp_dict_get (zccp_dict_t *self, const char *name, size_t *size)
{
    for (size_t i = 0; i < self->count; i++)
        if (streq (self->names [i], name)) {
            if (size)
                *size = self->sizes [i];
            return self->values [i];
        }
    return NULL;
}

//  ---------------------------------------------------------------------
//  Encoding

static bool
s_in_extra (const char **extra, const char *name)
{
    for (; extra && *extra; extra += 2)
        if (streq (*extra, name))
            return true;
    return false;
}

static byte *
s_put_string (byte *p, const char *s)
{
    size_t n = strlen (s);
    *p++ = (byte) n;
    memcpy (p, s, n);
    return p + n;
}

static byte *
s_put32 (byte *p, uint32_t v)
{
    p [0] = (byte) (v >> 24);
    p [1] = (byte) (v >> 16);
    p [2] = (byte) (v >> 8);
    p [3] = (byte) v;
    return p + 4;
}

static byte *
s_put_pair (byte *p, const char *name, const char *value)
{
    p = s_put_string (p, name);
    size_t n = strlen (value);
    p = s_put32 (p, (uint32_t) n);
    memcpy (p, value, n);
    return p + n;
}

//  Size of the dictionary, 0 if a name is too long.
static size_t
s_dict_size (zhash_t *headers, const char **extra, uint32_t *count)
{
    size_t size = 4;
    *count = 0;
    for (const char **e = extra; e && *e; e += 2) {
        if (strlen (e [0]) > ZCCP_MAX_STRING)
            return 0;
        size += 1 + strlen (e [0]) + 4 + strlen (e [1]);
        (*count)++;
    }
    for (const char *v = headers? (const char *) zhash_first (headers): NULL; v;
         v = (const char *) zhash_next (headers)) {
        const char *name = zhash_cursor (headers);
        if (s_in_extra (extra, name))
            continue;
        if (strlen (name) > ZCCP_MAX_STRING)
            return 0;
        size += 1 + strlen (name) + 4 + strlen (v);
        (*count)++;
    }
    return size;
}

zframe_t *
zccp_wire_frame (int id, const char *str1, const char *str2,
                 zhash_t *headers, const char **extra)
{
    int fields = s_fields (id);
    str1 = str1? str1: "";
    str2 = str2? str2: "";
    size_t size = 3;
    uint32_t count = 0;
    if (fields & F_STR1) {
        if (strlen (str1) > ZCCP_MAX_STRING)
            return NULL;
        size += 1 + strlen (str1);
    }
    if (fields & F_STR2) {
        if (strlen (str2) > ZCCP_MAX_STRING)
            return NULL;
        size += 1 + strlen (str2);
    }
    if (fields & F_DICT) {
        size_t dsize = s_dict_size (headers, extra, &count);
        if (dsize == 0)
            return NULL;
        size += dsize;
    }
    zframe_t *frame = zframe_new (NULL, size);
    assert (frame);
    byte *p = zframe_data (frame);
    *p++ = 0xAA;
    *p++ = 0xAA;
    *p++ = (byte) id;
    if (fields & F_STR1)
        p = s_put_string (p, str1);
    if (fields & F_STR2)
        p = s_put_string (p, str2);
    if (fields & F_DICT) {
        p = s_put32 (p, count);
        for (const char **e = extra; e && *e; e += 2)
            p = s_put_pair (p, e [0], e [1]);
        for (const char *v = headers? (const char *) zhash_first (headers): NULL; v;
             v = (const char *) zhash_next (headers))
            if (!s_in_extra (extra, zhash_cursor (headers)))
                p = s_put_pair (p, zhash_cursor (headers), v);
    }
    assert (p == zframe_data (frame) + size);
    return frame;
}
