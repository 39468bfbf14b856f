/*
 * retain.h - retained messages: one per topic, in memory (an rtree of
 * struct msg references); replaced by a newer retained publish, removed by
 * an empty one, sent to new subscriptions. Thread: broker.
 */
#ifndef WD_RETAIN_H
#define WD_RETAIN_H

#include <stddef.h>

#include "broker.h"
#include "msg.h"
#include "session.h"

/* Store (or, for an empty payload, clear) the retained message of m's topic. */
void retain_store(struct broker *b, struct msg *m);

/* Send the retained messages that filter matches to s, as a new subscription with opts. */
void retain_send(struct session *s, const char *filter, size_t flen, const struct tree_opts *opts);

/* Number of retained messages. */
size_t retain_count(struct broker *b);

#endif
