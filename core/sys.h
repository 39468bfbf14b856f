/*
 * sys.h - the $SYS/broker/... topics Mosquitto users know, published as
 * retained messages every sys_interval seconds. Thread: broker.
 */
#ifndef WD_SYS_H
#define WD_SYS_H

#include "broker.h"

/* Start the periodic $SYS publication (no-op when sys_interval is 0). */
void sys_start(struct broker *b);

#endif
