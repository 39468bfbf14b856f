/*
 * rules.h - topic rules as stored in users and roles: parse and print their
 * actions, validate filter patterns, and edit ordered rule lists by 1-based
 * index (the numbering `user show` and `role show` print).
 */
#ifndef WD_RULES_H
#define WD_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "err.h"

#define RULES_MAX 1024   /* rules per user or role */

/* "publish,subscribe", "receive", "all" -> RULE_* bits. WD_OK or WD_EINVAL. */
enum wd_err rules_parse_actions(const char *s, uint8_t *out);
/* RULE_* bits -> "publish,subscribe" or "all" into out. */
void rules_format_actions(uint8_t actions, char *out, size_t n);

/*
 * A rule's filter pattern: a valid MQTT filter (`a/#/b` is not) in which `%`
 * only starts a placeholder: %u (user name), %c (client id), %cn (certificate
 * identity). Effect, actions, QoS are checked too. WD_OK or WD_EINVAL with a
 * one-line reason in why.
 */
enum wd_err rules_validate(const struct rule *r, char *why, size_t whylen);

/*
 * Insert a copy of r at 1-based position at (0 = append) into the array *v of *n rules.
 * WD_OK, WD_EINVAL (at > n + 1), WD_ELIMIT (RULES_MAX), WD_ENOMEM.
 */
enum wd_err rules_insert(struct rule **v, size_t *n, const struct rule *r, size_t at);
/* Remove the rule at 1-based index. WD_OK or WD_ENOTFOUND. */
enum wd_err rules_remove(struct rule *v, size_t *n, size_t index);

#endif
