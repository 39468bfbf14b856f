/*
 * log.c - leveled log lines "TIME LEVEL message" to stderr or syslog, and a
 * ring of the last LOG_RING_LINES lines that the console shows. One mutex:
 * logging is rare next to message traffic (connects, disconnects, errors).
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static enum config_log_level threshold = LOG_LVL_INFO;
static enum config_log_dest dest = LOG_DEST_STDERR;
static int syslog_open;
static char ring[LOG_RING_LINES][LOG_LINE_MAX];
static size_t ring_next;  /* slot the next line goes to */
static size_t ring_count; /* lines held, up to LOG_RING_LINES */

void log_setup(enum config_log_level level, enum config_log_dest d)
{
    pthread_mutex_lock(&lock);
    threshold = level;
    dest = d;
    if (d == LOG_DEST_SYSLOG && !syslog_open) {
        openlog("warden", LOG_PID, LOG_DAEMON);
        syslog_open = 1;
    }
    pthread_mutex_unlock(&lock);
}

enum config_log_level log_level(void)
{
    return threshold;
}

static int syslog_priority(enum config_log_level l)
{
    static const int map[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG};
    return map[l];
}

void log_msg(enum config_log_level level, const char *fmt, ...)
{
    if (level > threshold)
        return;
    char msg[LOG_LINE_MAX - 48]; /* room for the time stamp and level */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);

    pthread_mutex_lock(&lock);
    snprintf(ring[ring_next], LOG_LINE_MAX, "%s %s %s", stamp, config_log_level_name(level), msg);
    if (dest == LOG_DEST_SYSLOG)
        syslog(syslog_priority(level), "%s", msg);
    else
        fprintf(stderr, "%s\n", ring[ring_next]);
    ring_next = (ring_next + 1) % LOG_RING_LINES;
    if (ring_count < LOG_RING_LINES)
        ring_count++;
    pthread_mutex_unlock(&lock);
}

size_t log_recent(char (*out)[LOG_LINE_MAX], size_t max)
{
    pthread_mutex_lock(&lock);
    size_t n = ring_count < max ? ring_count : max;
    size_t start = (ring_next + LOG_RING_LINES - n) % LOG_RING_LINES;
    for (size_t i = 0; i < n; i++)
        memcpy(out[i], ring[(start + i) % LOG_RING_LINES], LOG_LINE_MAX);
    pthread_mutex_unlock(&lock);
    return n;
}

char *log_clean(char *out, size_t n, const void *s, size_t len)
{
    const unsigned char *p = s;
    size_t i = 0;
    for (; n && i < len && i + 1 < n; i++)
        out[i] = p[i] < 0x20 || p[i] == 0x7f ? '?' : (char)p[i];
    if (n)
        out[i] = '\0';
    return out;
}
