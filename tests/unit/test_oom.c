/*
 * test_oom.c - out-of-memory at every allocation of a CONNECT, SUBSCRIBE,
 * PUBLISH sequence (SQLite's fault-injection approach).
 *
 * For N = 1, 2, ... the Nth allocation from broker start fails. Each run must
 * end cleanly: the broker either refuses to start or closes the affected
 * client, nothing crashes, and after broker_free() every byte is returned
 * (mem_in_use() back to where it was). The loop ends at the first N that no
 * allocation reaches, and that run must have served the client completely.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker.h"
#include "config.h"
#include "log.h"
#include "mem.h"

/* v5 CONNECT "oom1", SUBSCRIBE "a/#" QoS 1 with sub id 7, PUBLISH "a/b" QoS 1
 * retained with a user property, PUBLISH "a/c" QoS 0 with message expiry. */
static const uint8_t script[] = {
    0x10, 17, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 30, 0, 0, 4, 'o', 'o', 'm', '1',
    0x82, 11, 0, 1, 2, 0x0B, 7, 0, 3, 'a', '/', '#', 1,
    0x33, 17, 0, 3, 'a', '/', 'b', 0, 9, 7, 0x26, 0, 1, 'k', 0, 1, 'v', 'h', 'i',
    0x30, 12, 0, 3, 'a', '/', 'c', 5, 0x02, 0, 0, 0, 60, 'x',
};

static int dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Run one scripted session; returns bytes received, or -1 if the broker did not start. */
static ssize_t run_once(unsigned long fail_at, uint8_t *got, size_t cap, bool *reached)
{
    struct config cfg;
    config_defaults(&cfg);
    assert_int_equal(config_embedded(&cfg, 0), WD_OK);
    cfg.sys_interval = 0;
    unsigned long start = mem_alloc_count();
    mem_fail_after(fail_at);
    struct broker *b = broker_new(&cfg, NULL);
    ssize_t total = -1;
    if (b) {
        int fd = dial(b->listeners[0].port);
        assert_int_equal(send(fd, script, sizeof script, 0), (ssize_t)sizeof script);
        total = 0;
        for (int i = 0; i < 40; i++) {
            loop_run_once(b->loop, 5);
            ssize_t n = recv(fd, got + total, cap - (size_t)total, 0);
            if (n > 0)
                total += n;
            else if (n == 0)
                break;
        }
        close(fd);
        for (int i = 0; i < 5; i++)
            loop_run_once(b->loop, 5);
        broker_free(b);
    }
    *reached = mem_alloc_count() - start >= fail_at;
    mem_fail_after(0);
    config_fini(&cfg);
    return total;
}

static void test_every_allocation_fails_cleanly(void **state)
{
    (void)state;
    log_setup(LOG_LVL_ERROR, LOG_DEST_STDERR);
    size_t base = mem_in_use();
    uint8_t got[4096];
    unsigned long n;
    bool reached = true;
    ssize_t total = 0;
    for (n = 1; reached && n < 100000; n++) {
        total = run_once(n, got, sizeof got, &reached);
        if (mem_in_use() != base)
            fail_msg("allocation %lu failing leaked %zu bytes", n, mem_in_use() - base);
    }
    if (n <= 20)
        fail_msg("only %lu allocations", n);
    /* The last run had no failure: CONNACK, SUBACK, PUBACK and two deliveries. */
    assert_true(total > 0);
    assert_int_equal(got[0], 0x20);
    bool suback = false, puback = false, pub_b = false, pub_c = false;
    for (ssize_t i = 0; i + 1 < total;) {
        uint8_t type = got[i] >> 4;
        size_t len = got[i + 1]; /* every packet here is under 128 bytes */
        if (type == 9)
            suback = true;
        if (type == 4)
            puback = true;
        if (type == 3 && memmem(got + i, len + 2, "a/b", 3))
            pub_b = true;
        if (type == 3 && memmem(got + i, len + 2, "a/c", 3))
            pub_c = true;
        i += (ssize_t)len + 2;
    }
    assert_true(suback);
    assert_true(puback);
    assert_true(pub_b);
    assert_true(pub_c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
