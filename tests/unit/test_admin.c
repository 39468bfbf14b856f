/*
 * test_admin.c - the admin interface against a real broker thread: a client
 * connects over loopback with raw MQTT bytes, and the test thread lists
 * sessions and subscriptions, reads stats, disconnects the client and shuts
 * the broker down, all through admin.h.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "admin.h"
#include "broker.h"
#include "config.h"
#include "log.h"

struct fixture {
    struct broker *b;
    struct admin *a;
    pthread_t thread;
    uint16_t port;
};

static void *run(void *arg)
{
    broker_run(arg);
    return NULL;
}

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof f);
    log_setup(LOG_LVL_ERROR, LOG_DEST_STDERR);
    struct config cfg;
    config_defaults(&cfg);
    if (config_embedded(&cfg, 0) != WD_OK)
        return -1;
    cfg.sys_interval = 0;
    f.b = broker_new(&cfg, NULL);
    if (!f.b)
        return -1;
    f.a = admin_of(f.b);
    f.port = f.b->listeners[0].port;
    pthread_create(&f.thread, NULL, run, f.b);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    admin_shutdown(f->a);
    pthread_join(f->thread, NULL);
    broker_free(f->b);
    return 0;
}

static int dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Read exactly n bytes (or fail the test). */
static void read_n(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = recv(fd, p, n, 0);
        assert_true(r > 0);
        p += r;
        n -= (size_t)r;
    }
}

/* CONNECT 3.1.1 client "adm1", clean session, keepalive 60; then SUBSCRIBE a/# QoS 1. */
static int connect_and_subscribe(uint16_t port)
{
    static const uint8_t connect[] = {0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60,
                                      0,    4,  'a', 'd', 'm', '1'};
    static const uint8_t subscribe[] = {0x82, 8, 0, 1, 0, 3, 'a', '/', '#', 1};
    int fd = dial(port);
    assert_int_equal(send(fd, connect, sizeof connect, 0), (ssize_t)sizeof connect);
    uint8_t connack[4];
    read_n(fd, connack, sizeof connack);
    assert_int_equal(connack[0], 0x20);
    assert_int_equal(connack[3], 0);
    assert_int_equal(send(fd, subscribe, sizeof subscribe, 0), (ssize_t)sizeof subscribe);
    uint8_t suback[5];
    read_n(fd, suback, sizeof suback);
    assert_int_equal(suback[0], 0x90);
    assert_int_equal(suback[4], 1);
    return fd;
}

static void test_sessions_subs_stats_disconnect(void **state)
{
    struct fixture *f = *state;
    int fd = connect_and_subscribe(f->port);

    struct admin_sessions ss;
    assert_int_equal(admin_list_sessions(f->a, &ss), WD_OK);
    assert_int_equal(ss.n, 1);
    assert_string_equal(ss.v[0].client_id, "adm1");
    assert_true(ss.v[0].connected);
    assert_int_equal(ss.v[0].version, 4);
    assert_int_equal(ss.v[0].keepalive, 60);
    assert_int_equal(ss.v[0].subscriptions, 1);
    assert_int_equal(ss.v[0].msgs_in, 2);
    assert_string_equal(ss.v[0].auth_method, "anonymous");
    assert_non_null(strstr(ss.v[0].addr, "127.0.0.1:"));
    admin_sessions_free(&ss);

    struct admin_subs subs;
    assert_int_equal(admin_session_subs(f->a, "adm1", &subs), WD_OK);
    assert_int_equal(subs.n, 1);
    assert_string_equal(subs.v[0].filter, "a/#");
    assert_int_equal(subs.v[0].qos, 1);
    admin_subs_free(&subs);
    assert_int_equal(admin_session_subs(f->a, "nobody", &subs), WD_ENOTFOUND);

    struct admin_stats st;
    assert_int_equal(admin_get_stats(f->a, &st), WD_OK);
    assert_int_equal(st.clients, 1);
    assert_int_equal(st.sessions, 1);
    assert_int_equal(st.subscriptions, 1);
    assert_true(st.mem_in_use > 0);
    assert_int_equal(st.store_generation, 0); /* no store */

    /* The flight recorder: the CONNECT and the SUBSCRIBE's grant, oldest first. */
    struct admin_events ev;
    assert_int_equal(admin_session_flight(f->a, "adm1", &ev), WD_OK);
    assert_int_equal(ev.n, 2);
    assert_string_equal(ev.v[0].kind, "connect");
    assert_non_null(strstr(ev.v[0].text, "CONNECT accepted: MQTT 4 from 127.0.0.1:"));
    assert_string_equal(ev.v[1].kind, "subscribe");
    assert_string_equal(ev.v[1].text, "a/# QoS 1: granted QoS 1");
    assert_true(ev.v[0].ms > 0 && ev.v[1].ms >= ev.v[0].ms);
    admin_events_free(&ev);
    assert_int_equal(admin_session_flight(f->a, "nobody", &ev), WD_ENOTFOUND);
    assert_int_equal(ev.n, 0);
    /* No store: no audit, and a bad count is refused first. */
    struct admin_audits au;
    assert_int_equal(admin_audit_recent(f->a, 10, &au), WD_ENOTFOUND);
    assert_int_equal(admin_audit_recent(f->a, 0, &au), WD_EINVAL);
    assert_int_equal(admin_audit_recent(f->a, ADMIN_AUDIT_MAX + 1, &au), WD_EINVAL);

    assert_int_equal(admin_disconnect(f->a, "nobody"), WD_ENOTFOUND);
    assert_int_equal(admin_disconnect(f->a, "adm1"), WD_OK);
    uint8_t byte;
    assert_int_equal(recv(fd, &byte, 1, 0), 0); /* 3.1.1: closed without DISCONNECT */
    close(fd);

    /* Clean session: gone once the broker has reaped the connection. */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(admin_list_sessions(f->a, &ss), WD_OK);
        size_t n = ss.n;
        admin_sessions_free(&ss);
        if (n == 0)
            break;
        usleep(10000);
    }
    assert_int_equal(admin_list_sessions(f->a, &ss), WD_OK);
    assert_int_equal(ss.n, 0);
    admin_sessions_free(&ss);
    assert_int_equal(admin_get_stats(f->a, &st), WD_OK);
    assert_int_equal(st.clients, 0);
    assert_int_equal(st.subscriptions, 0);
}

/* CONNECT 3.1.1 with client id id (clean session); then pings PINGREQs (msgs in). */
static int connect_as(uint16_t port, const char *id, int pings)
{
    uint8_t pkt[64];
    size_t n = strlen(id);
    assert_true(n < 40);
    static const uint8_t head[] = {0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60};
    pkt[0] = 0x10;
    pkt[1] = (uint8_t)(sizeof head + 2 + n);
    memcpy(pkt + 2, head, sizeof head);
    pkt[2 + sizeof head] = 0;
    pkt[3 + sizeof head] = (uint8_t)n;
    memcpy(pkt + 4 + sizeof head, id, n);
    int fd = dial(port);
    assert_int_equal(send(fd, pkt, 4 + sizeof head + n, 0), (ssize_t)(4 + sizeof head + n));
    uint8_t connack[4];
    read_n(fd, connack, sizeof connack);
    assert_int_equal(connack[3], 0);
    static const uint8_t ping[] = {0xc0, 0};
    for (int i = 0; i < pings; i++) {
        uint8_t resp[2];
        assert_int_equal(send(fd, ping, sizeof ping, 0), 2);
        read_n(fd, resp, sizeof resp);
        assert_int_equal(resp[0], 0xd0);
    }
    return fd;
}

/* The client ids of a page, joined by spaces. */
static const char *ids(const struct admin_page *p)
{
    static char out[256];
    out[0] = '\0';
    for (size_t i = 0; i < p->rows.n; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? " " : "",
                 p->rows.v[i].client_id);
    return out;
}

/* The paged op: the broker filters, sorts, follows a row and copies only the window. */
static void test_session_page(void **state)
{
    struct fixture *f = *state;
    static const char *const names[] = {"pump-3", "pump-1", "valve-9", "pump-2", "gateway"};
    int fds[5];
    for (int i = 0; i < 5; i++)
        fds[i] = connect_as(f->port, names[i], i); /* msgs in: CONNECT + i PINGREQs */

    struct admin_page p;
    struct admin_page_req q = {.sort = ADMIN_COL_CLIENT, .limit = 2};
    assert_int_equal(admin_session_page(f->a, &q, &p), WD_OK);
    assert_int_equal(p.total, 5);
    assert_int_equal(p.matched, 5);
    assert_int_equal(p.offset, 0);
    assert_int_equal(p.follow, -1);
    assert_string_equal(ids(&p), "gateway pump-1");
    assert_int_equal(p.rows.v[0].msgs_in, 5); /* whole rows: as admin_list_sessions */
    admin_page_free(&p);

    /* Offset; past the end the window is pulled back to stay full. */
    q.offset = 2;
    assert_int_equal(admin_session_page(f->a, &q, &p), WD_OK);
    assert_string_equal(ids(&p), "pump-2 pump-3");
    admin_page_free(&p);
    q.offset = 4;
    assert_int_equal(admin_session_page(f->a, &q, &p), WD_OK);
    assert_int_equal(p.offset, 3);
    assert_string_equal(ids(&p), "pump-3 valve-9");
    admin_page_free(&p);
    q.offset = (size_t)-1; /* no overflow: the last window */
    assert_int_equal(admin_session_page(f->a, &q, &p), WD_OK);
    assert_int_equal(p.offset, 3);
    admin_page_free(&p);

    /* Sort by messages in, descending. */
    q = (struct admin_page_req){.sort = ADMIN_COL_IN, .desc = true, .limit = 3};
    assert_int_equal(admin_session_page(f->a, &q, &p), WD_OK);
    assert_string_equal(ids(&p), "gateway pump-2 valve-9"); /* 5, 4, 3 */
    admin_page_free(&p);

    /* Filter (case-insensitive), with the counts before and after it. */
    q = (struct admin_page_req){.sort = ADMIN_COL_CLIENT, .filter = "PUMP", .limit = 10};
    assert_int_equal(admin_session_page(f->a, &q, &p), WD_OK);
    assert_int_equal(p.total, 5);
    assert_int_equal(p.matched, 3);
    assert_string_equal(ids(&p), "pump-1 pump-2 pump-3");
    admin_page_free(&p);
    q.filter = "127.0.0.1"; /* the address */
    assert_int_equal(admin_session_page(f->a, &q, &p), WD_OK);
    assert_int_equal(p.matched, 5);
    admin_page_free(&p);

    /* Follow: outside the window asked for, the window moves onto the row. */
    q = (struct admin_page_req){.sort = ADMIN_COL_CLIENT, .follow = "valve-9", .limit = 1};
    assert_int_equal(admin_session_page(f->a, &q, &p), WD_OK);
    assert_int_equal(p.follow, 4);
    assert_int_equal(p.offset, 4);
    assert_string_equal(ids(&p), "valve-9");
    admin_page_free(&p);
    /* Inside it, the window stays where it was asked for. */
    q = (struct admin_page_req){.sort = ADMIN_COL_CLIENT, .follow = "pump-2", .limit = 3};
    assert_int_equal(admin_session_page(f->a, &q, &p), WD_OK);
    assert_int_equal(p.follow, 2);
    assert_int_equal(p.offset, 0);
    admin_page_free(&p);
    /* Filtered out, or unknown: not followed. */
    q.filter = "valve";
    assert_int_equal(admin_session_page(f->a, &q, &p), WD_OK);
    assert_int_equal(p.follow, -1);
    assert_string_equal(ids(&p), "valve-9");
    admin_page_free(&p);

    /* Bad requests change nothing and copy nothing. */
    q = (struct admin_page_req){.sort = ADMIN_NCOLS, .limit = 1};
    assert_int_equal(admin_session_page(f->a, &q, &p), WD_EINVAL);
    assert_int_equal(p.rows.n, 0);
    q = (struct admin_page_req){.sort = ADMIN_COL_CLIENT, .limit = ADMIN_PAGE_MAX + 1};
    assert_int_equal(admin_session_page(f->a, &q, &p), WD_EINVAL);
    /* limit 0: the counts only. */
    q.limit = 0;
    assert_int_equal(admin_session_page(f->a, &q, &p), WD_OK);
    assert_int_equal(p.total, 5);
    assert_int_equal(p.rows.n, 0);
    admin_page_free(&p);

    /* One session by client id: a lookup (the detail screen), not a sort. */
    struct admin_session one;
    assert_int_equal(admin_session_get(f->a, "pump-2", &one), WD_OK);
    assert_string_equal(one.client_id, "pump-2");
    assert_int_equal(one.msgs_in, 4);
    assert_true(one.connected);
    admin_session_clear(&one);
    assert_null(one.client_id);
    assert_int_equal(admin_session_get(f->a, "pump-", &one), WD_ENOTFOUND);
    /* Identities: anonymous sessions have none to count. */
    struct admin_idents id;
    assert_int_equal(admin_identity_counts(f->a, &id), WD_OK);
    assert_int_equal(id.n, 0);
    admin_idents_free(&id);
    for (int i = 0; i < 5; i++)
        close(fds[i]);
}

static void test_calls_after_shutdown_fail_cleanly(void **state)
{
    (void)state;
    log_setup(LOG_LVL_ERROR, LOG_DEST_STDERR);
    struct config cfg;
    config_defaults(&cfg);
    assert_int_equal(config_embedded(&cfg, 0), WD_OK);
    cfg.sys_interval = 0;
    struct broker *b = broker_new(&cfg, NULL);
    assert_non_null(b);
    pthread_t t;
    pthread_create(&t, NULL, run, b);
    assert_int_equal(admin_shutdown(admin_of(b)), WD_OK);
    pthread_join(t, NULL);
    struct admin_stats st;
    /* The loop has stopped: calls fail instead of waiting for ever. */
    assert_int_equal(admin_get_stats(admin_of(b), &st), WD_ECLOSED);
    assert_int_equal(admin_disconnect(admin_of(b), "x"), WD_ECLOSED);
    broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sessions_subs_stats_disconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_page, setup, teardown),
        cmocka_unit_test(test_calls_after_shutdown_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
