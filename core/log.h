/*
 * log.h - leveled logging to stderr or syslog, plus a ring of recent lines
 * for the console. Never pass a password or a payload to these functions.
 * Thread: any (a mutex serialises output and the ring).
 */
#ifndef WD_LOG_H
#define WD_LOG_H

#include <stddef.h>

#include "config.h"

/* Set the threshold and destination (may be called again on SIGHUP). */
void log_setup(enum config_log_level level, enum config_log_dest dest);
enum config_log_level log_level(void);

/* Log one line at level (no trailing newline needed). */
void log_msg(enum config_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/*
 * Copy an untrusted string (a client id, a user name) into out for a log
 * line: at most n-1 bytes, control characters shown as '?'. Returns out.
 */
char *log_clean(char *out, size_t n, const void *s, size_t len);

/*
 * Copy up to max of the most recent lines, oldest first, into out (each
 * line NUL-terminated, at most LOG_LINE_MAX bytes). Returns the number copied.
 */
#define LOG_LINE_MAX 256
#define LOG_RING_LINES 512
size_t log_recent(char (*out)[LOG_LINE_MAX], size_t max);

#endif
