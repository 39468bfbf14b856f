/*
 * route.h - fan-out of one published message to the sessions that match it.
 *
 * One pass per message: the subscription tree reports matches; matches of
 * the same session are merged (highest granted QoS, every Subscription
 * Identifier, one delivery) while each shared-group match is its own
 * delivery. Scratch arrays live in the broker and are reused, so routing
 * allocates nothing in the steady state. Thread: broker.
 */
#ifndef WD_ROUTE_H
#define WD_ROUTE_H

#include "broker.h"
#include "msg.h"

/* Deliver m to every matching subscription. Borrows m (takes references as needed). */
void route_publish(struct broker *b, struct msg *m);

#endif
