/* msg.c - reference-counted application messages (see msg.h). */
#include "msg.h"

#include <assert.h>
#include <string.h>

#include "mem.h"

struct msg *msg_new(const char *topic, size_t tlen, const void *props, size_t plen,
                    const void *payload, size_t len)
{
    assert(tlen <= UINT16_MAX);
    struct msg *m = wd_malloc(sizeof *m + tlen + 1 + plen + len);
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    m->refs = 1;
    m->topic_len = (uint16_t)tlen;
    m->props_len = (uint32_t)plen;
    m->payload_len = (uint32_t)len;
    memcpy(m->data, topic, tlen);
    m->data[tlen] = '\0';
    if (plen)
        memcpy(m->data + tlen + 1, props, plen);
    if (len)
        memcpy(m->data + tlen + 1 + plen, payload, len);
    return m;
}

void msg_unref(struct msg *m)
{
    if (!m)
        return;
    assert(m->refs > 0);
    if (--m->refs == 0)
        wd_free(m);
}
