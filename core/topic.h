/*
 * topic.h - PURE topic name and filter rules of MQTT (section 4.7).
 *
 * Strings are (pointer, length), not NUL-terminated; their UTF-8 validity is
 * checked by the codec before they get here. Levels are separated by '/';
 * '+' matches one whole level, '#' the rest (including the parent level),
 * and a first-level wildcard never matches a name starting with '$'
 * [MQTT-4.7.2-1].
 */
#ifndef WD_TOPIC_H
#define WD_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* A topic name for PUBLISH: non-empty, no '+' or '#'. WD_OK or WD_ETOPIC. */
enum wd_err topic_validate_name(const char *s, size_t len);

/*
 * A subscription filter: non-empty; '+' alone in its level; '#' alone in the
 * last level. Does not handle "$share/": call topic_parse_shared() first.
 * WD_OK or WD_ETOPIC.
 */
enum wd_err topic_validate_filter(const char *s, size_t len);

/*
 * Split a shared subscription "$share/GROUP/FILTER" [MQTT-4.8.2].
 * out: *shared false (and *filter = s, *flen = len) for an ordinary filter;
 * otherwise true with views of GROUP and FILTER into s. Returns WD_ETOPIC for
 * "$share/" forms that are invalid: empty group, a group containing '+' or
 * '#', no '/' after the group, or an empty or invalid FILTER.
 * The FILTER part is validated with topic_validate_filter(); an ordinary
 * filter is validated too. Borrows: views point into s.
 */
enum wd_err topic_parse_shared(const char *s, size_t len, bool *shared, const char **group,
                               size_t *glen, const char **filter, size_t *flen);

/* Does the (valid) filter match the (valid) name? Applies the '$' rule. */
bool topic_match(const char *filter, size_t flen, const char *name, size_t nlen);

/* Number of levels: 1 + number of '/'. */
uint32_t topic_levels(const char *s, size_t len);

/* Does s contain '+' or '#'? */
bool topic_has_wildcard(const char *s, size_t len);

#endif
