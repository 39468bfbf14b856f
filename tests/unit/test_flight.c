/*
 * test_flight.c - the per-session flight recorder ring (core/flight.c):
 * nothing allocated before the first event, growth by doubling up to
 * FLIGHT_MAX, oldest events overwritten in order, long texts cut, every
 * byte returned on free, and an allocation failure losing only the event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../core/flight.h"
#include "../../core/mem.h"

static void note(struct flight **f, int64_t ms)
{
    char text[32];
    snprintf(text, sizeof text, "event %lld", (long long)ms);
    flight_note_at(f, ms, FL_SUBSCRIBE, text);
}

static void test_empty_until_first_event(void **state)
{
    (void)state;
    struct flight *f = NULL;
    size_t before = mem_in_use();
    assert_int_equal(flight_count(f), 0);
    flight_free(f); /* NULL: no-op */
    assert_int_equal(mem_in_use(), before);
    note(&f, 1);
    assert_non_null(f);
    assert_int_equal(f->cap, FLIGHT_FIRST);
    assert_int_equal(flight_count(f), 1);
    assert_string_equal(flight_at(f, 0)->text, "event 1");
    assert_int_equal(flight_at(f, 0)->kind, FL_SUBSCRIBE);
    flight_free(f);
    assert_int_equal(mem_in_use(), before);
}

static void test_grows_then_wraps_in_order(void **state)
{
    (void)state;
    struct flight *f = NULL;
    size_t before = mem_in_use();
    for (int64_t i = 1; i <= 10; i++)
        note(&f, i);
    assert_int_equal(f->cap, 16); /* 1 (one block) -> 4 -> 8 -> 16 */
    assert_int_equal(flight_count(f), 10);
    for (size_t i = 0; i < 10; i++) {
        char want[32];
        snprintf(want, sizeof want, "event %lld", (long long)i + 1);
        assert_int_equal(flight_at(f, i)->ms, (int64_t)i + 1);
        assert_string_equal(flight_at(f, i)->text, want); /* the first's text moved with it */
    }
    for (int64_t i = 11; i <= 130; i++)
        note(&f, i);
    assert_int_equal(f->cap, FLIGHT_MAX);
    assert_int_equal(flight_count(f), FLIGHT_MAX);
    /* The last FLIGHT_MAX events, oldest first. */
    for (size_t i = 0; i < FLIGHT_MAX; i++) {
        char want[32];
        int64_t ms = 130 - FLIGHT_MAX + 1 + (int64_t)i;
        snprintf(want, sizeof want, "event %lld", (long long)ms);
        assert_int_equal(flight_at(f, i)->ms, ms);
        assert_string_equal(flight_at(f, i)->text, want);
    }
    flight_free(f);
    assert_int_equal(mem_in_use(), before);
}

static void test_text_cut_and_formatted(void **state)
{
    (void)state;
    struct flight *f = NULL;
    char big[FLIGHT_TEXT * 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    flight_note_at(&f, 5, FL_DENY, big);
    assert_int_equal(strlen(flight_at(f, 0)->text), FLIGHT_TEXT);
    flight_note(&f, FL_DISCONNECT, "reason 0x%02x %s", 0x98, flight_reason_name(0x98));
    assert_string_equal(flight_at(f, 1)->text, "reason 0x98 administrative action");
    assert_true(flight_at(f, 1)->ms > 1600000000000LL); /* wall clock, in ms */
    assert_string_equal(flight_kind_name(FL_DENY), "deny");
    assert_string_equal(flight_kind_name(FL_KICK), "kick");
    flight_free(f);
}

static void test_alloc_failure_loses_only_the_event(void **state)
{
    (void)state;
    struct flight *f = NULL;
    /* The first event: no ring yet, so a failure leaves none. */
    size_t before = mem_in_use();
    for (int n = 1; n <= 1; n++) { /* ring, slot and text are one block */
        mem_fail_after(n);
        note(&f, 1);
        mem_fail_after(0);
        assert_null(f);
        assert_int_equal(mem_in_use(), before);
    }
    /* A failed growth keeps the ring at its size: the oldest is overwritten.
     * (At 4 slots: a 1-slot ring has no order to keep and may grow later.) */
    for (int64_t i = 1; i <= 4; i++)
        note(&f, i);
    assert_int_equal(f->cap, 4);
    mem_fail_after(2); /* the text is copied, the realloc fails */
    note(&f, 99);
    mem_fail_after(0);
    assert_int_equal(f->cap, 4);
    assert_int_equal(flight_count(f), 4);
    assert_int_equal(flight_at(f, 0)->ms, 2);
    assert_int_equal(flight_at(f, 3)->ms, 99);
    note(&f, 100); /* wrapped: it stays at its size */
    assert_int_equal(f->cap, 4);
    assert_int_equal(flight_at(f, 3)->ms, 100);
    flight_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_until_first_event),
        cmocka_unit_test(test_grows_then_wraps_in_order),
        cmocka_unit_test(test_text_cut_and_formatted),
        cmocka_unit_test(test_alloc_failure_loses_only_the_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
