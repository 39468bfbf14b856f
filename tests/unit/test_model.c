/*
 * test_model.c - the console's view-model (tui/model.c): sorting, filtering,
 * the selection kept by client id across refreshes, rows that vanish, the
 * paged window (what it asks for, moves past it, the selection followed when
 * the broker re-sorts or filters), and the rates and sparkline buckets.
 * Snapshots are built by hand; admin_page_of() pages them as the broker does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../tui/model.h"

struct row {
    const char *id, *user, *addr;
    uint64_t msgs_in;
};

/* A snapshot of rows (strings point at the literals: the model never frees them). */
static struct admin_sessions snap(const struct row *r, size_t n)
{
    struct admin_sessions s = {.n = n, .v = calloc(n ? n : 1, sizeof *s.v)};
    assert_non_null(s.v);
    for (size_t i = 0; i < n; i++) {
        s.v[i].client_id = (char *)r[i].id;
        s.v[i].username = (char *)r[i].user;
        snprintf(s.v[i].addr, sizeof s.v[i].addr, "%s", r[i].addr);
        snprintf(s.v[i].auth_method, sizeof s.v[i].auth_method, "%s",
                 r[i].user ? "password" : "anonymous");
        s.v[i].msgs_in = r[i].msgs_in;
        s.v[i].connected = true;
    }
    return s;
}

/* The shown client ids, joined by spaces. */
static const char *shown(const struct model *m)
{
    static char out[512];
    out[0] = '\0';
    for (size_t i = 0; i < m->nrows; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? " " : "",
                 model_row(m, i)->client_id);
    return out;
}

static const struct row base[] = {
    {"sensor-3", "alice", "10.0.0.3:1000", 30},
    {"sensor-1", NULL, "10.0.0.1:1000", 10},
    {"gateway", "bob", "192.168.1.5:2000", 500},
    {"sensor-2", "alice", "10.0.0.2:1000", 20},
};

static void test_sort(void **state)
{
    (void)state;
    struct admin_sessions s = snap(base, 4);
    struct model m;
    model_init(&m);
    assert_int_equal(model_set_sessions(&m, &s), WD_OK);
    assert_string_equal(shown(&m), "gateway sensor-1 sensor-2 sensor-3");
    assert_int_equal(model_set_sort(&m, COL_IN, true), WD_OK);
    assert_string_equal(shown(&m), "gateway sensor-3 sensor-2 sensor-1");
    assert_int_equal(model_set_sort(&m, COL_IN, false), WD_OK);
    assert_string_equal(shown(&m), "sensor-1 sensor-2 sensor-3 gateway");
    /* Ties on identity break by client id; NULL identity sorts as "". */
    assert_int_equal(model_set_sort(&m, COL_IDENTITY, false), WD_OK);
    assert_string_equal(shown(&m), "sensor-1 sensor-2 sensor-3 gateway");
    assert_int_equal(model_set_sort(&m, COL_ADDR, true), WD_OK);
    assert_string_equal(shown(&m), "gateway sensor-3 sensor-2 sensor-1");
    model_fini(&m);
    free(s.v);
}

static void test_filter(void **state)
{
    (void)state;
    struct admin_sessions s = snap(base, 4);
    struct model m;
    model_init(&m);
    assert_int_equal(model_set_sessions(&m, &s), WD_OK);
    assert_int_equal(model_set_filter(&m, "SENSOR"), WD_OK); /* case-insensitive */
    assert_string_equal(shown(&m), "sensor-1 sensor-2 sensor-3");
    assert_int_equal(model_set_filter(&m, "alice"), WD_OK); /* identity */
    assert_string_equal(shown(&m), "sensor-2 sensor-3");
    assert_int_equal(model_set_filter(&m, "192.168"), WD_OK); /* address */
    assert_string_equal(shown(&m), "gateway");
    assert_int_equal(model_set_filter(&m, "anonymous"), WD_OK); /* auth method */
    assert_string_equal(shown(&m), "sensor-1");
    assert_int_equal(model_set_filter(&m, "nothing-like-this"), WD_OK);
    assert_int_equal(m.nrows, 0);
    assert_null(model_selected(&m));
    assert_int_equal(model_set_filter(&m, ""), WD_OK);
    assert_int_equal(m.nrows, 4);
    model_fini(&m);
    free(s.v);
}

static void test_selection_follows_key(void **state)
{
    (void)state;
    struct admin_sessions s1 = snap(base, 4);
    struct model m;
    model_init(&m);
    assert_int_equal(model_set_sessions(&m, &s1), WD_OK);
    assert_true(model_select_key(&m, "sensor-2"));
    assert_int_equal(m.sel, 2);
    /* A refresh with a new session sorting before it: the selection follows the key. */
    static const struct row more[] = {
        {"sensor-3", "alice", "10.0.0.3:1000", 31}, {"aaa-new", NULL, "10.0.0.9:1", 0},
        {"sensor-1", NULL, "10.0.0.1:1000", 10},    {"gateway", "bob", "192.168.1.5:2000", 501},
        {"sensor-2", "alice", "10.0.0.2:1000", 21},
    };
    struct admin_sessions s2 = snap(more, 5);
    assert_int_equal(model_set_sessions(&m, &s2), WD_OK);
    free(s1.v);
    assert_int_equal(m.sel, 3);
    assert_string_equal(model_selected(&m)->client_id, "sensor-2");
    /* Re-sorting keeps it too. */
    assert_int_equal(model_set_sort(&m, COL_IN, true), WD_OK);
    assert_string_equal(model_selected(&m)->client_id, "sensor-2");
    /* A filter that hides it selects nothing; clearing the filter brings it back. */
    assert_int_equal(model_set_filter(&m, "gateway"), WD_OK);
    assert_string_equal(model_selected(&m)->client_id, "gateway");
    assert_int_equal(model_set_filter(&m, ""), WD_OK);
    assert_string_equal(model_selected(&m)->client_id, "gateway");
    model_move(&m, 1);
    assert_string_equal(model_selected(&m)->client_id, "sensor-3");
    model_move(&m, 100);
    assert_string_equal(model_selected(&m)->client_id, "aaa-new");
    model_move(&m, -100);
    assert_string_equal(model_selected(&m)->client_id, "gateway");
    model_fini(&m);
    free(s2.v);
}

static void test_rows_vanish(void **state)
{
    (void)state;
    struct admin_sessions s1 = snap(base, 4);
    struct model m;
    model_init(&m);
    assert_int_equal(model_set_sessions(&m, &s1), WD_OK);
    assert_true(model_select_key(&m, "sensor-2")); /* row 2 of 4 */
    /* sensor-2 disconnects and expires: the row now at its position is selected. */
    static const struct row gone[] = {
        {"sensor-3", "alice", "10.0.0.3:1000", 30},
        {"sensor-1", NULL, "10.0.0.1:1000", 10},
        {"gateway", "bob", "192.168.1.5:2000", 500},
    };
    struct admin_sessions s2 = snap(gone, 3);
    assert_int_equal(model_set_sessions(&m, &s2), WD_OK);
    free(s1.v);
    assert_int_equal(m.sel, 2);
    assert_string_equal(model_selected(&m)->client_id, "sensor-3");
    /* The last row vanishes while selected: the selection moves up. */
    struct admin_sessions s3 = snap(gone + 1, 2);
    assert_int_equal(model_set_sessions(&m, &s3), WD_OK);
    free(s2.v);
    assert_int_equal(m.sel, 1);
    assert_string_equal(model_selected(&m)->client_id, "sensor-1");
    /* Everything vanishes, then a snapshot brings rows back. */
    struct admin_sessions s4 = snap(NULL, 0);
    assert_int_equal(model_set_sessions(&m, &s4), WD_OK);
    free(s3.v);
    assert_null(model_selected(&m));
    struct admin_sessions s5 = snap(base, 4);
    assert_int_equal(model_set_sessions(&m, &s5), WD_OK);
    free(s4.v);
    assert_string_equal(model_selected(&m)->client_id, "sensor-1"); /* the key kept */
    model_fini(&m);
    free(s5.v);
}

static void test_scroll(void **state)
{
    (void)state;
    struct row r[50];
    char ids[50][16];
    for (int i = 0; i < 50; i++) {
        snprintf(ids[i], sizeof ids[i], "c%02d", i);
        r[i] = (struct row){ids[i], NULL, "", (uint64_t)i};
    }
    struct admin_sessions s = snap(r, 50);
    struct model m;
    model_init(&m);
    assert_int_equal(model_set_sessions(&m, &s), WD_OK);
    model_move(&m, 30);
    model_scroll(&m, 10);
    assert_int_equal(m.top, 21);
    model_move(&m, -25);
    model_scroll(&m, 10);
    assert_int_equal(m.top, 5);
    model_move(&m, 100);
    model_scroll(&m, 10);
    assert_int_equal(m.top, 40);
    model_fini(&m);
    free(s.v);
}

/* ---- paging: the console's window over a list the "broker" (admin_page_of) pages ---- */

/* One console refresh with height rows on screen: ask for a window, show it. */
static void refresh(struct model *m, const struct admin_sessions *all, size_t height)
{
    model_scroll(m, height);
    struct admin_page_req req;
    model_request(m, height, &req);
    struct admin_page p;
    assert_int_equal(admin_page_of(all, &req, &p), WD_OK);
    model_set_page(m, &p);
    assert_null(p.rows.v); /* taken */
    model_scroll(m, height);
}

/* n rows c000..c(n-1), msgs in = i; ids from first. */
static struct admin_sessions many(char (*ids)[8], struct row *r, int first, int n)
{
    for (int i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "c%03d", first + i);
        r[i] = (struct row){ids[i], NULL, "", (uint64_t)(first + i)};
    }
    return snap(r, (size_t)n);
}

static void test_window(void **state)
{
    (void)state;
    static char ids[200][8];
    static struct row r[200];
    struct admin_sessions s = many(ids, r, 0, 200);
    struct model m;
    model_init(&m);
    refresh(&m, &s, 10);
    /* A screenful either side of the screen: 30 rows, not 200. */
    assert_int_equal(m.nrows, 200);
    assert_int_equal(m.total, 200);
    assert_int_equal(m.page.offset, 0);
    assert_int_equal(m.page.rows.n, 30);
    assert_string_equal(model_selected(&m)->client_id, "c000");
    assert_false(model_stale(&m, 10));
    /* Moves inside the window need no new one. */
    model_move(&m, 25);
    model_scroll(&m, 10);
    assert_false(model_stale(&m, 10));
    assert_string_equal(model_selected(&m)->client_id, "c025");
    /* Past it: the row is not held, the key is forgotten until the next window. */
    model_move(&m, 10);
    model_scroll(&m, 10);
    assert_true(model_stale(&m, 10));
    assert_null(model_selected(&m));
    refresh(&m, &s, 10);
    assert_false(model_stale(&m, 10));
    assert_string_equal(model_selected(&m)->client_id, "c035");
    assert_int_equal(m.sel, 35);
    assert_true(m.page.offset <= m.top && m.page.offset + m.page.rows.n >= m.top + 10);
    /* End: the last window, full. */
    model_move(&m, 1000);
    refresh(&m, &s, 10);
    assert_string_equal(model_selected(&m)->client_id, "c199");
    assert_int_equal(m.page.offset, 170);
    assert_int_equal(m.top, 190);
    assert_null(model_row(&m, 0)); /* not held */
    model_fini(&m);
    free(s.v);
}

/* The selection follows its client id when rows come and go, sort or filter change. */
static void test_window_follows_key(void **state)
{
    (void)state;
    static char ids[200][8], ids2[190][8];
    static struct row r[200], r2[190];
    struct admin_sessions s = many(ids, r, 0, 200);
    struct model m;
    model_init(&m);
    refresh(&m, &s, 10);
    model_move(&m, 50);
    refresh(&m, &s, 10);
    assert_string_equal(model_selected(&m)->client_id, "c050");
    size_t line = m.sel - m.top; /* where it is on screen */
    /* Ten rows before it vanish: it moves up the list, and stays on its screen line. */
    struct admin_sessions s2 = many(ids2, r2, 10, 190);
    refresh(&m, &s2, 10);
    assert_string_equal(model_selected(&m)->client_id, "c050");
    assert_int_equal(m.sel, 40);
    assert_int_equal(m.sel - m.top, line);
    /* Sort descending (by messages in): the broker answers where it is now, the
     * window moves onto it. Until then the window is stale. */
    assert_int_equal(model_set_sort(&m, COL_IN, true), WD_OK);
    assert_true(model_stale(&m, 10));
    refresh(&m, &s2, 10);
    assert_false(model_stale(&m, 10));
    assert_string_equal(model_selected(&m)->client_id, "c050");
    assert_int_equal(m.sel, 149); /* 199 down to 10 */
    assert_string_equal(model_row(&m, m.top)->client_id, "c059"); /* 199 - top */
    /* A filter that keeps it. */
    assert_int_equal(model_set_filter(&m, "C05"), WD_OK);
    refresh(&m, &s2, 10);
    assert_int_equal(m.nrows, 10);
    assert_int_equal(m.total, 190);
    assert_string_equal(model_selected(&m)->client_id, "c050");
    assert_int_equal(m.sel, 9);
    /* One that hides it: the row at the same position (clamped), the key of that row. */
    assert_int_equal(model_set_filter(&m, "c1"), WD_OK);
    refresh(&m, &s2, 10);
    assert_int_equal(m.nrows, 100);
    assert_int_equal(m.sel, 9);
    assert_string_equal(model_selected(&m)->client_id, "c190");
    /* No rows: nothing selected, the key kept for when rows come back. */
    assert_int_equal(model_set_filter(&m, "nothing"), WD_OK);
    refresh(&m, &s2, 10);
    assert_null(model_selected(&m));
    assert_int_equal(model_set_filter(&m, ""), WD_OK);
    refresh(&m, &s2, 10);
    assert_string_equal(model_selected(&m)->client_id, "c190");
    model_fini(&m);
    free(s.v);
    free(s2.v);
}

static void test_rates(void **state)
{
    (void)state;
    struct model_rates r;
    model_rates_init(&r);
    struct admin_stats st = {0};
    model_rates_push(&r, &st, 1000); /* baseline only */
    assert_int_equal(r.hist_n, 0);
    for (int i = 1; i <= 30; i++) {
        st.msgs_received += (uint64_t)(i <= 10 ? 5 : 50);
        st.bytes_sent += 1024;
        model_rates_push(&r, &st, 1000 + (uint64_t)i * 1000);
    }
    assert_int_equal(r.hist_n, 30);
    assert_true(r.now[SER_MSGS_IN] > 49.9 && r.now[SER_MSGS_IN] < 50.1);
    assert_true(r.now[SER_BYTES_OUT] > 1023.9 && r.now[SER_BYTES_OUT] < 1024.1);
    double b[8];
    size_t n = model_rates_buckets(&r, SER_MSGS_IN, 10, b, 8);
    assert_int_equal(n, 3); /* only 30 s of history */
    assert_true(b[0] > 4.9 && b[0] < 5.1);   /* oldest first */
    assert_true(b[2] > 49.9 && b[2] < 50.1);
    /* A counter going backwards (broker restarted) is a zero rate, not a huge one. */
    st.msgs_received = 0;
    model_rates_push(&r, &st, 40000);
    assert_true(r.now[SER_MSGS_IN] == 0);
}

/* Per-minute counts: what the counters grew by in the samples of the last 60 s. */
static void test_rates_window(void **state)
{
    (void)state;
    struct model_rates r;
    model_rates_init(&r);
    struct admin_stats st = {0};
    assert_int_equal(model_rates_window(&r, SER_AUTH_FAIL, 60000), 0); /* no history */
    model_rates_push(&r, &st, 0);
    /* 90 samples 1.5 s apart (a slow refresh): 2 failures, 1 denial each. */
    for (int i = 1; i <= 90; i++) {
        st.auth_failures += 2;
        st.denials += 1;
        st.connects_total += i > 80 ? 3 : 0;
        model_rates_push(&r, &st, (uint64_t)i * 1500);
    }
    /* Samples newer than 60 s before the newest: 40 of them (i = 51..90). */
    assert_int_equal(model_rates_window(&r, SER_AUTH_FAIL, 60000), 80);
    assert_int_equal(model_rates_window(&r, SER_DENIALS, 60000), 40);
    assert_int_equal(model_rates_window(&r, SER_CONNECTS, 60000), 30);
    assert_int_equal(model_rates_window(&r, SER_DENIALS, 1), 1); /* the newest only */
    assert_true(r.now[SER_AUTH_FAIL] > 1.33 && r.now[SER_AUTH_FAIL] < 1.34);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort),           cmocka_unit_test(test_filter),
        cmocka_unit_test(test_selection_follows_key), cmocka_unit_test(test_rows_vanish),
        cmocka_unit_test(test_scroll),         cmocka_unit_test(test_window),
        cmocka_unit_test(test_window_follows_key), cmocka_unit_test(test_rates),
        cmocka_unit_test(test_rates_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
