/*
 * cli_store.c - the commands about the store as a whole: `audit` (print, or
 * --follow by polling until SIGINT/SIGTERM), `store backup|verify|info|tune`
 * and `import mosquitto`. An import parses every file first and then
 * applies everything in one write transaction, so it is all or nothing.
 * `store tune` measures Argon2id on this machine and opens no store.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "backend.h"
#include "cli_int.h"
#include "err.h"
#include "mem.h"
#include "pw.h"
#include "../store/audit.h"
#include "../store/import.h"
#include "../store/importer.h"
#include "../store/store.h"

#define AUDIT_DEFAULT_LIMIT 50
#define FOLLOW_POLL_MS 500

/* ---------------------------------------------------------------- audit */

static enum wd_err body_audit(struct store_txn *t, struct cli *c)
{
    return audit_list(t, c->l.after, c->l.limit, &c->l.audit, &c->l.naudit);
}

static volatile sig_atomic_t stop_follow;

static void on_stop(int sig)
{
    (void)sig;
    stop_follow = 1;
}

static void print_audit(struct cli *c, bool header)
{
    if (c->json) {
        for (size_t i = 0; i < c->l.naudit; i++) {
            const struct audit_entry *a = &c->l.audit[i];
            json_t *o = json_pack("{s:I, s:o, s:s, s:s, s:s, s:s}", "seq", (json_int_t)a->seq,
                                  "time", cli_json_time(a->time), "actor", a->actor, "action",
                                  a->action, "target", a->target, "result", a->result);
            cli_emit_json(o);
        }
        fflush(stdout);
        return;
    }
    struct cli_table t = {5, {"TIME", "ACTOR", "ACTION", "TARGET", "RESULT"}, NULL, 0, 0, 0};
    for (size_t i = 0; i < c->l.naudit; i++) {
        char when[32];
        cli_fmt_time(c->l.audit[i].time, when, sizeof when);
        cli_table_row(&t, when, c->l.audit[i].actor, c->l.audit[i].action, c->l.audit[i].target,
                      c->l.audit[i].result);
    }
    if (header || t.nrows) {
        if (header)
            cli_table_print(&t, "");
        else /* following: rows only, no header */
            for (size_t r = 0; r < t.nrows; r++)
                printf("%s  %s  %s  %s  %s\n", t.cells[r * 5], t.cells[r * 5 + 1],
                       t.cells[r * 5 + 2], t.cells[r * 5 + 3], t.cells[r * 5 + 4]);
    }
    cli_table_free(&t);
    fflush(stdout);
}

int cli_cmd_audit(struct cli *c)
{
    unsigned long limit = AUDIT_DEFAULT_LIMIT;
    if (c->opt[CLI_OPT_LIMIT] &&
        (!cli_parse_uint(c->opt[CLI_OPT_LIMIT], 100000000, &limit) || limit == 0))
        return cli_failed(c, "invalid --limit '%.20s' (a positive number)", c->opt[CLI_OPT_LIMIT]);
    c->l.limit = limit;
    if (cli_read_txn(c, body_audit))
        return 1;
    bool follow = c->opt[CLI_OPT_FOLLOW] != NULL;
    if (c->json && !follow) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < c->l.naudit; i++) {
            const struct audit_entry *e = &c->l.audit[i];
            json_array_append_new(a, json_pack("{s:I, s:o, s:s, s:s, s:s, s:s}", "seq",
                                               (json_int_t)e->seq, "time", cli_json_time(e->time),
                                               "actor", e->actor, "action", e->action, "target",
                                               e->target, "result", e->result));
        }
        cli_listing_free(c);
        return cli_emit_json(a);
    }
    print_audit(c, true);
    if (!follow) {
        cli_listing_free(c);
        return 0;
    }
    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    uint64_t last = c->l.naudit ? c->l.audit[c->l.naudit - 1].seq : 0;
    cli_listing_free(c);
    while (!stop_follow) {
        struct timespec ts = {0, FOLLOW_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
        if (stop_follow)
            break;
        c->l.after = last;
        c->l.limit = 0;
        if (cli_read_txn(c, body_audit))
            return 1;
        if (c->l.naudit)
            last = c->l.audit[c->l.naudit - 1].seq;
        print_audit(c, false);
        cli_listing_free(c);
    }
    return 0;
}

/* ---------------------------------------------------------------- store commands */

int cli_cmd_store_backup(struct cli *c)
{
    if (store_backup(c->st, c->pos[0]) != WD_OK)
        return cli_failed(c, "%s", store_errmsg(c->st));
    return cli_done(c, "backup written to %s (restore: put it in an empty directory as data.mdb)",
                    c->pos[0]);
}

struct vreport {
    struct cli *c;
    json_t *list;
};

static void on_problem(void *ctx, const char *db, const char *key, const char *what)
{
    struct vreport *v = ctx;
    if (v->list)
        json_array_append_new(v->list,
                              json_pack("{s:s, s:s, s:s}", "db", db, "key", key, "problem", what));
    else
        fprintf(stderr, "%s/%s: %s\n", db, key, what);
}

int cli_cmd_store_verify(struct cli *c)
{
    struct vreport v = {c, c->json ? json_array() : NULL};
    size_t problems = 0;
    enum wd_err e = store_verify(c->st, on_problem, &v, &problems);
    if (e != WD_OK) {
        json_decref(v.list);
        return cli_failed(c, "%s", store_errmsg(c->st)[0] ? store_errmsg(c->st) : wd_strerror(e));
    }
    struct store_info in;
    store_info(c->st, &in);
    size_t records = 0;
    for (int i = 0; i < DB_COUNT; i++)
        records += in.counts[i];
    if (c->json) {
        json_t *o = json_pack("{s:b, s:I, s:I, s:o}", "ok", problems == 0, "records",
                              (json_int_t)records, "problems", (json_int_t)problems, "details",
                              v.list);
        cli_emit_json(o);
        return problems ? 1 : 0;
    }
    if (problems) {
        fprintf(stderr, "warden store verify: %zu problem%s in %zu records\n", problems,
                problems == 1 ? "" : "s", records);
        return 1;
    }
    printf("store %s: %zu records, all decode, references intact\n", in.path, records);
    return 0;
}

int cli_cmd_store_info(struct cli *c)
{
    struct store_info in;
    if (store_info(c->st, &in) != WD_OK)
        return cli_failed(c, "%s", store_errmsg(c->st));
    if (c->json) {
        json_t *counts = json_object();
        for (int i = 0; counts && i < DB_COUNT; i++)
            json_object_set_new(counts, store_db_name((enum store_db)i),
                                json_integer((json_int_t)in.counts[i]));
        return cli_emit_json(json_pack("{s:s, s:i, s:I, s:I, s:I, s:i, s:i, s:i, s:i, s:I, s:o}",
                                       "path", in.path, "schema", (int)in.schema, "generation",
                                       (json_int_t)in.generation, "map_size",
                                       (json_int_t)in.map_size, "used", (json_int_t)in.used,
                                       "page_size", (int)in.page_size, "readers",
                                       (int)in.readers, "max_readers", (int)in.max_readers,
                                       "stale_readers_cleared", (int)in.stale_readers_cleared,
                                       "last_txn", (json_int_t)in.last_txn, "records", counts));
    }
    printf("path:        %s\n", in.path);
    printf("schema:      %u\n", in.schema);
    printf("generation:  %llu\n", (unsigned long long)in.generation);
    printf("map:         %.1f MiB used of %.1f MiB (grows when full)\n", in.used / 1048576.0,
           in.map_size / 1048576.0);
    printf("readers:     %u of %u slots%s\n", in.readers, in.max_readers,
           in.stale_readers_cleared ? " (slots of killed readers cleared at open)" : "");
    printf("records:     ");
    for (int i = 1; i < DB_COUNT; i++)
        printf("%s%s %zu", i > 1 ? ", " : "", store_db_name((enum store_db)i), in.counts[i]);
    printf("\n");
    return 0;
}

struct measurement {
    unsigned long long ops;
    size_t mem;
    double ms;
};

/* Median of three verifications: one alone is at the mercy of whatever else runs. */
static double measure(unsigned long long ops, size_t mem)
{
    double v[3];
    for (int i = 0; i < 3; i++)
        v[i] = pw_measure_ms(ops, mem);
    if (v[0] < 0 || v[1] < 0 || v[2] < 0)
        return -1.0;
    double lo = v[0] < v[1] ? v[0] : v[1], hi = v[0] < v[1] ? v[1] : v[0];
    return v[2] < lo ? lo : v[2] > hi ? hi : v[2];
}

int cli_cmd_store_tune(struct cli *c)
{
    unsigned long target = 20;
    if (c->opt[CLI_OPT_TARGET_MS] &&
        (!cli_parse_uint(c->opt[CLI_OPT_TARGET_MS], 10000, &target) || target == 0))
        return cli_failed(c, "invalid --target-ms '%.20s'", c->opt[CLI_OPT_TARGET_MS]);
    struct measurement m[24];
    int n = 0;
    unsigned long long cops = c->cfg.password_opslimit;
    size_t cmem = (size_t)c->cfg.password_memlimit;
    m[n++] = (struct measurement){cops, cmem, measure(cops, cmem)};
    /* Memory is what a gateway lacks: keep the configured memory, raise passes while
     * they fit the target; if one pass is already too slow, halve the memory. */
    struct measurement best = {0, 0, -1};
    size_t mem = cmem;
    for (int round = 0; round < 6 && best.ms < 0 && n < 24; round++) {
        for (unsigned long long ops = 1; ops <= 10 && n < 24; ops++) {
            double ms = (ops == cops && mem == cmem) ? m[0].ms : measure(ops, mem);
            if (!(ops == cops && mem == cmem))
                m[n++] = (struct measurement){ops, mem, ms};
            if (ms < 0 || ms > target)
                break;
            best = (struct measurement){ops, mem, ms};
        }
        if (best.ms < 0) {
            if (mem / 2 < 8u << 20)
                break;
            mem /= 2;
        }
    }
    if (c->json) {
        json_t *a = json_array();
        for (int i = 0; a && i < n; i++)
            json_array_append_new(a, json_pack("{s:I, s:I, s:f}", "opslimit", (json_int_t)m[i].ops,
                                               "memlimit", (json_int_t)m[i].mem, "ms", m[i].ms));
        json_t *o = json_pack("{s:i, s:{s:I, s:I, s:f}, s:o}", "target_ms", (int)target,
                              "configured", "opslimit", (json_int_t)cops, "memlimit",
                              (json_int_t)cmem, "ms", m[0].ms, "measurements", a);
        if (o && best.ms >= 0)
            json_object_set_new(o, "suggest", json_pack("{s:I, s:I, s:f}", "opslimit",
                                                         (json_int_t)best.ops, "memlimit",
                                                         (json_int_t)best.mem, "ms", best.ms));
        return cli_emit_json(o);
    }
    printf("Argon2id, one verification on this machine (median of 3):\n");
    struct cli_table t = {3, {"OPSLIMIT", "MEMLIMIT", "TIME"}, NULL, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        char ops[24], memb[24], ms[32];
        snprintf(ops, sizeof ops, "%llu", m[i].ops);
        snprintf(memb, sizeof memb, "%zu MiB", m[i].mem >> 20);
        snprintf(ms, sizeof ms, "%.1f ms%s", m[i].ms, i == 0 ? " (configured)" : "");
        cli_table_row(&t, ops, memb, ms);
    }
    cli_table_print(&t, "  ");
    cli_table_free(&t);
    if (best.ms < 0) {
        printf("no parameters reach %lu ms here; keep the defaults or raise --target-ms\n",
               target);
        return 0;
    }
    printf("suggestion for a %lu ms target:\n  password_opslimit %llu\n  password_memlimit %zum\n",
           target, best.ops, best.mem >> 20);
    return 0;
}

/* ---------------------------------------------------------------- import */

struct import_job {
    const struct import *imp;
    bool dynsec;
    struct importer_counts counts;
};
static struct import_job *ijob; /* the one import this process runs */

static enum wd_err body_import(struct store_txn *t, struct cli *c)
{
    (void)c;
    return importer_apply(t, ijob->imp, ijob->dynsec, &ijob->counts);
}

int cli_cmd_import(struct cli *c)
{
    static const struct {
        enum cli_opt opt;
        enum wd_err (*parse)(struct import *, const char *, const char *, size_t, unsigned);
    } files[] = {
        {CLI_OPT_DYNSEC, import_dynsec}, /* roles first: password-file users may not name them */
        {CLI_OPT_PASSWD, import_passwd},
        {CLI_OPT_ACL, import_acl},
    };
    if (!c->opt[CLI_OPT_PASSWD] && !c->opt[CLI_OPT_ACL] && !c->opt[CLI_OPT_DYNSEC])
        return cli_usage_error(c, "give at least one of --passwd, --acl, --dynsec");
    unsigned flags = c->opt[CLI_OPT_SKIP_BAD] ? IMPORT_SKIP_BAD : 0;
    struct import imp;
    import_init(&imp);
    int rc = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0] && !rc; i++) {
        const char *path = c->opt[files[i].opt];
        if (!path)
            continue;
        char *data = NULL, err[IMPORT_ERR_MAX] = "";
        size_t len = 0;
        enum wd_err e = import_read_file(path, 0, &data, &len, err);
        if (e != WD_OK) {
            rc = cli_failed(c, "%s", err[0] ? err : wd_strerror(e));
            break;
        }
        e = files[i].parse(&imp, path, data, len, flags);
        wd_free(data);
        if (e != WD_OK)
            rc = cli_failed(c, "%s", imp.err[0] ? imp.err : wd_strerror(e));
    }
    if (rc) {
        import_fini(&imp);
        return rc;
    }
    struct import_job job = {.imp = &imp, .dynsec = c->opt[CLI_OPT_DYNSEC] != NULL};
    ijob = &job;
    const char *passwd = c->opt[CLI_OPT_PASSWD], *acl = c->opt[CLI_OPT_ACL];
    const char *dynsec = c->opt[CLI_OPT_DYNSEC];
    snprintf(c->target, sizeof c->target, "%s%s%s%s%s%s", passwd ? "passwd " : "",
             passwd ? passwd : "", acl ? " acl " : "", acl ? acl : "",
             dynsec ? " dynsec " : "", dynsec ? dynsec : "");
    rc = cli_run_write(c, body_import);
    size_t skipped = imp.skipped, ignored = imp.ignored;
    char first_skip[IMPORT_ERR_MAX];
    snprintf(first_skip, sizeof first_skip, "%s", imp.err);
    import_fini(&imp);
    ijob = NULL;
    if (rc)
        return rc;
    const struct importer_counts *n = &job.counts;
    if (c->json) {
        json_t *o = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "ok", 1, "users",
                              (json_int_t)n->users, "users_without_password",
                              (json_int_t)n->users_acl_only, "roles", (json_int_t)n->roles,
                              "rules", (json_int_t)n->rules, "bindings", (json_int_t)n->bindings,
                              "skipped", (json_int_t)skipped, "ignored", (json_int_t)ignored);
        if (o && skipped)
            json_object_set_new(o, "first_skipped", json_string(first_skip));
        return cli_emit_json(o);
    }
    printf("imported %zu user%s (%zu named only by the acl_file, without a password), %zu "
           "role%s, %zu rule%s, %zu client-id binding%s\n",
           n->users, n->users == 1 ? "" : "s", n->users_acl_only, n->roles,
           n->roles == 1 ? "" : "s", n->rules, n->rules == 1 ? "" : "s", n->bindings,
           n->bindings == 1 ? "" : "s");
    if (skipped)
        printf("skipped %zu bad line%s or entr%s (first: %s)\n", skipped, skipped == 1 ? "" : "s",
               skipped == 1 ? "y" : "ies", first_skip);
    if (ignored)
        printf("ignored %zu unsubscribe rule%s (Warden does not check unsubscribe)\n", ignored,
               ignored == 1 ? "" : "s");
    printf("imported hashes are re-hashed to Argon2id at each user's next login\n");
    return 0;
}

