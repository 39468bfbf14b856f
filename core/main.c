/*
 * main.c - the composition root: argv, modes, configuration, wiring.
 *
 *   warden [-c FILE] [-p PORT] [--store DIR] [--no-console] [-v]   run the broker
 *   warden console [-c FILE | --socket PATH]                        attach a console
 *   warden check -c FILE                                            validate a configuration
 *
 * With a terminal on stdin and stdout (and no --no-console) the broker runs
 * on a second thread and the console (tui/) in the foreground; quitting the
 * console stops the broker. The console sees the broker through struct
 * tui_ops, filled here with admin.h calls or with the admin socket client.
 *   warden --help | --version
 */
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "admin_client.h"
#include "admin_sock.h"
#include "broker.h"
#include "cli.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "../store/store.h"
#include "../tui/tui.h"

_Static_assert(TUI_LOG_LINE == LOG_LINE_MAX, "console log lines are the log ring's lines");

static void usage(FILE *f)
{
    fprintf(f,
            "usage: warden [-c FILE] [-p PORT] [--store DIR] [--no-console] [-v]\n"
            "       warden console [-c FILE | --socket PATH]\n"
            "       warden check -c FILE\n"
            "       warden --help | --version\n"
            "\n"
            "  -c, --config FILE   read the configuration from FILE (Mosquitto-style key value lines)\n"
            "  -p, --port PORT     without -c: the embedded default on 127.0.0.1:PORT\n"
            "      --store DIR     store directory (overrides store_dir)\n"
            "      --no-console    run headless (the default when stdin/stdout is not a terminal)\n"
            "  -v, --verbose       log at debug level\n"
            "\n"
            "With no configuration Warden listens on 127.0.0.1:1883 and allows anonymous\n"
            "clients there, as Mosquitto does locally. SIGHUP re-reads the configuration.\n");
}

static void report(void *ctx, const char *file, int line, const char *msg)
{
    int *count = ctx;
    (*count)++;
    if (file && line > 0)
        fprintf(stderr, "%s:%d: %s\n", file, line, msg);
    else if (file)
        fprintf(stderr, "%s: %s\n", file, msg);
    else
        fprintf(stderr, "warden: %s\n", msg);
}

static int parse_port(const char *s, uint16_t *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            file = argv[++i];
        else {
            fprintf(stderr, "warden check: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!file) {
        fprintf(stderr, "usage: warden check -c FILE\n");
        return 2;
    }
    struct config cfg;
    config_defaults(&cfg);
    int errors = 0;
    enum wd_err e = config_load(&cfg, file, report, &errors);
    if (e == WD_OK)
        printf("%s: ok (%zu listener%s)\n", file, cfg.nlisteners, cfg.nlisteners == 1 ? "" : "s");
    else if (e == WD_ENOMEM)
        fprintf(stderr, "warden check: out of memory\n");
    else
        fprintf(stderr, "%s: %d error%s\n", file, errors, errors == 1 ? "" : "s");
    config_fini(&cfg);
    return e == WD_OK ? 0 : 1;
}

/* ---- the console's operations: embedded (admin.h) ---- */

struct embedded {
    struct admin *a;
    struct tui_info info;
};

static enum wd_err emb_info(void *ctx, struct tui_info *out)
{
    *out = ((struct embedded *)ctx)->info;
    return WD_OK;
}
static enum wd_err emb_page(void *ctx, const struct admin_page_req *req, struct admin_page *out)
{
    return admin_session_page(((struct embedded *)ctx)->a, req, out);
}
static enum wd_err emb_session(void *ctx, const char *id, struct admin_session *out)
{
    return admin_session_get(((struct embedded *)ctx)->a, id, out);
}
static enum wd_err emb_identities(void *ctx, struct admin_idents *out)
{
    return admin_identity_counts(((struct embedded *)ctx)->a, out);
}
static enum wd_err emb_subs(void *ctx, const char *id, struct admin_subs *out)
{
    return admin_session_subs(((struct embedded *)ctx)->a, id, out);
}
static enum wd_err emb_stats(void *ctx, struct admin_stats *out)
{
    return admin_get_stats(((struct embedded *)ctx)->a, out);
}
static enum wd_err emb_disconnect(void *ctx, const char *id)
{
    char clean[128];
    log_notice("console: disconnecting client=%s", log_clean(clean, sizeof clean, id, strlen(id)));
    return admin_disconnect(((struct embedded *)ctx)->a, id);
}
static enum wd_err emb_shutdown(void *ctx)
{
    log_notice("console: quit, stopping the broker");
    return admin_shutdown(((struct embedded *)ctx)->a);
}
static enum wd_err emb_flight(void *ctx, const char *id, struct admin_events *out)
{
    return admin_session_flight(((struct embedded *)ctx)->a, id, out);
}
static enum wd_err emb_audit(void *ctx, size_t max, struct admin_audits *out)
{
    return admin_audit_recent(((struct embedded *)ctx)->a, max, out);
}
static enum wd_err emb_explain(void *ctx, const struct admin_explain_req *q,
                               struct admin_explanation *out)
{
    return admin_explain(((struct embedded *)ctx)->a, q, out);
}
static enum wd_err emb_log(void *ctx, char (*out)[TUI_LOG_LINE], size_t max, size_t *n)
{
    (void)ctx;
    *n = log_recent(out, max);
    return WD_OK;
}

static enum wd_err emb_edit(void *ctx, int argc, const char *const *argv, const char *password,
                            char **json, int *status)
{
    char actor[64];
    admin_self_actor(actor, sizeof actor); /* the embedded console's operator runs the broker */
    return admin_edit(((struct embedded *)ctx)->a, actor, argc, argv, password, json, status);
}

/* ---- the console's operations: attached (admin socket) ---- */

struct attached {
    struct admin_client *c;
    struct tui_info info;
};

static enum wd_err att_info(void *ctx, struct tui_info *out)
{
    *out = ((struct attached *)ctx)->info;
    return WD_OK;
}
static enum wd_err att_page(void *ctx, const struct admin_page_req *req, struct admin_page *out)
{
    return admin_client_page(((struct attached *)ctx)->c, req, out);
}
static enum wd_err att_session(void *ctx, const char *id, struct admin_session *out)
{
    return admin_client_session(((struct attached *)ctx)->c, id, out);
}
static enum wd_err att_identities(void *ctx, struct admin_idents *out)
{
    return admin_client_identities(((struct attached *)ctx)->c, out);
}
static enum wd_err att_subs(void *ctx, const char *id, struct admin_subs *out)
{
    return admin_client_subs(((struct attached *)ctx)->c, id, out);
}
static enum wd_err att_stats(void *ctx, struct admin_stats *out)
{
    return admin_client_stats(((struct attached *)ctx)->c, out);
}
static enum wd_err att_disconnect(void *ctx, const char *id)
{
    return admin_client_disconnect(((struct attached *)ctx)->c, id);
}
static enum wd_err att_shutdown(void *ctx)
{
    return admin_client_shutdown(((struct attached *)ctx)->c);
}
static enum wd_err att_flight(void *ctx, const char *id, struct admin_events *out)
{
    return admin_client_flight(((struct attached *)ctx)->c, id, out);
}
static enum wd_err att_audit(void *ctx, size_t max, struct admin_audits *out)
{
    return admin_client_audit(((struct attached *)ctx)->c, max, out);
}
static enum wd_err att_explain(void *ctx, const struct admin_explain_req *q,
                               struct admin_explanation *out)
{
    return admin_client_explain(((struct attached *)ctx)->c, q, out);
}
static enum wd_err att_log(void *ctx, char (*out)[TUI_LOG_LINE], size_t max, size_t *n)
{
    return admin_client_log(((struct attached *)ctx)->c, &out[0][0], TUI_LOG_LINE, max, n);
}

static enum wd_err att_edit(void *ctx, int argc, const char *const *argv, const char *password,
                            char **json, int *status)
{
    return admin_client_edit(((struct attached *)ctx)->c, argc, argv, password, json, status);
}

/* "127.0.0.1:1883, 0.0.0.0:8883 (TLS)" */
static void describe_listeners(const struct broker *b, char *out, size_t n)
{
    out[0] = '\0';
    for (size_t i = 0; i < b->nlisteners; i++) {
        size_t used = strlen(out);
        snprintf(out + used, n - used, "%s%s%s", i ? ", " : "", b->listeners[i].name,
                 b->listeners[i].tls ? " (TLS)" : "");
    }
}

/* `warden console [-c FILE | --socket PATH]`: attach to a running broker. */
static int cmd_console(int argc, char **argv)
{
    const char *file = NULL, *sock = NULL;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            file = argv[++i];
        else if (!strcmp(argv[i], "--socket") && i + 1 < argc)
            sock = argv[++i];
        else {
            fprintf(stderr, "usage: warden console [-c FILE | --socket PATH]\n");
            return 2;
        }
    }
    char path[4096];
    if (sock) {
        snprintf(path, sizeof path, "%s", sock);
    } else {
        struct config cfg;
        config_defaults(&cfg);
        if (file) {
            int errors = 0;
            if (config_load(&cfg, file, report, &errors) != WD_OK) {
                fprintf(stderr, "warden console: %s has errors (see 'warden check -c %s')\n",
                        file, file);
                config_fini(&cfg);
                return 1;
            }
        }
        admin_sock_path(cfg.admin_socket, cfg.store_dir, path, sizeof path);
        config_fini(&cfg);
    }
    struct attached at = {0};
    char why[512];
    enum wd_err e = admin_client_open(path, &at.c, why, sizeof why);
    long pid = 0;
    if (e == WD_OK)
        e = admin_client_hello(at.c, at.info.version, sizeof at.info.version, &pid,
                               at.info.listeners, sizeof at.info.listeners);
    if (e != WD_OK) {
        fprintf(stderr,
                "warden console: cannot reach the broker's admin socket %s (%s).\n"
                "Is the broker running? Start it with 'warden -c FILE'; give the same -c FILE "
                "here,\nor --socket PATH (the admin_socket key, default STORE_DIR/%s). "
                "Attach as the broker's OS user.\n",
                path, e == WD_OK ? "" : (at.c ? wd_strerror(e) : why), ADMIN_SOCK_NAME);
        admin_client_free(at.c);
        return 1;
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "warden console: needs a terminal on stdin and stdout\n");
        admin_client_free(at.c);
        return 2;
    }
    snprintf(at.info.where, sizeof at.info.where, "attached pid %ld", pid);
    struct tui_ops ops = {
        .ctx = &at, .embedded = false, .info = att_info, .page = att_page,
        .session = att_session, .identities = att_identities,
        .subs = att_subs, .stats = att_stats, .disconnect = att_disconnect,
        .shutdown = att_shutdown, .log_recent = att_log, .edit = att_edit,
        .flight = att_flight, .audit = att_audit, .explain = att_explain,
    };
    enum tui_end end = tui_run(&ops);
    admin_client_free(at.c);
    if (end == TUI_BROKER_GONE) {
        fprintf(stderr, "warden console: the broker closed the admin socket (stopped?)\n");
        return 1;
    }
    if (end == TUI_NO_TERMINAL) {
        fprintf(stderr, "warden console: cannot start the terminal (TERM=%s)\n",
                getenv("TERM") ? getenv("TERM") : "");
        return 1;
    }
    return 0;
}

static void *broker_thread(void *arg)
{
    broker_run(arg);
    return NULL;
}

/*
 * Run the console in the foreground while the broker runs on a second
 * thread. Log lines that would go to the terminal go to STORE_DIR/warden.log
 * until the console ends (the Log screen shows them as well).
 */
static void run_console(struct broker *b)
{
    pthread_t th;
    if (pthread_create(&th, NULL, broker_thread, b) != 0) {
        log_error("cannot start the broker thread; running headless");
        broker_run(b);
        return;
    }
    int saved = -1;
    char logpath[4096];
    if (isatty(STDERR_FILENO)) {
        snprintf(logpath, sizeof logpath, "%s/warden.log", b->cfg.store_dir);
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            saved = dup(STDERR_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
    }
    struct embedded em = {.a = admin_of(b)};
    snprintf(em.info.version, sizeof em.info.version, "%s", WARDEN_VERSION);
    describe_listeners(b, em.info.listeners, sizeof em.info.listeners);
    snprintf(em.info.where, sizeof em.info.where, "embedded pid %ld", (long)getpid());
    struct tui_ops ops = {
        .ctx = &em, .embedded = true, .info = emb_info, .page = emb_page,
        .session = emb_session, .identities = emb_identities,
        .subs = emb_subs, .stats = emb_stats, .disconnect = emb_disconnect,
        .shutdown = emb_shutdown, .log_recent = emb_log, .edit = emb_edit,
        .flight = emb_flight, .audit = emb_audit, .explain = emb_explain,
    };
    enum tui_end end = tui_run(&ops);
    if (saved >= 0) {
        dup2(saved, STDERR_FILENO);
        close(saved);
        fprintf(stderr, "warden: the console's log lines are in %s\n", logpath);
    }
    if (end == TUI_NO_TERMINAL) {
        fprintf(stderr, "warden: cannot start the console (TERM=%s); running headless, "
                        "stop with SIGTERM\n", getenv("TERM") ? getenv("TERM") : "");
    } else if (end != TUI_QUIT) {
        if (end == TUI_HANGUP)
            log_notice("the console's terminal went away: stopping the broker (run with "
                       "--no-console, or under tmux or systemd, to keep it without one)");
        admin_shutdown(admin_of(b)); /* WD_ECLOSED when the broker stopped first */
    }
    pthread_join(th, NULL);
}

int main(int argc, char **argv)
{
    if (cli_is_command(argc, argv))
        return cli_main(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "check"))
        return cmd_check(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "console"))
        return cmd_console(argc - 1, argv + 1);
    if (argc > 1 && argv[1][0] != '-') {
        fprintf(stderr, "warden: unknown command '%s' (see warden --help)\n", argv[1]);
        return 2;
    }
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"port", required_argument, NULL, 'p'},
        {"store", required_argument, NULL, 'S'},  {"no-console", no_argument, NULL, 'N'},
        {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
    };
    const char *file = NULL, *store = NULL, *port_arg = NULL;
    bool verbose = false, no_console = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:p:vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': file = optarg; break;
        case 'p': port_arg = optarg; break;
        case 'S': store = optarg; break;
        case 'N': no_console = true; break;
        case 'v': verbose = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("warden %s\n", WARDEN_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "warden: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (file && port_arg) {
        fprintf(stderr, "warden: -p applies to the embedded default; with -c, set the port "
                        "with a 'listener' line\n");
        return 2;
    }

    struct config cfg;
    config_defaults(&cfg);
    if (file) {
        int errors = 0;
        enum wd_err e = config_load(&cfg, file, report, &errors);
        if (e != WD_OK) {
            fprintf(stderr, "warden: %s: %s\n", file,
                    e == WD_ENOMEM ? "out of memory" : "configuration has errors, not starting");
            config_fini(&cfg);
            return 1;
        }
    } else {
        uint16_t port = 1883;
        if (port_arg && parse_port(port_arg, &port) != 0) {
            fprintf(stderr, "warden: -p: '%s' is not a port number (0..65535)\n", port_arg);
            return 2;
        }
        if (config_embedded(&cfg, port) != WD_OK) {
            fprintf(stderr, "warden: out of memory\n");
            return 1;
        }
    }
    if (store) {
        char *dup = wd_strdup(store);
        if (!dup) {
            config_fini(&cfg);
            return 1;
        }
        config_set_store_dir(&cfg, dup);
    }
    if (verbose)
        cfg.log_level = LOG_LVL_DEBUG;
    log_setup(cfg.log_level, cfg.log_dest);

    /* Signals are read through a signalfd on the broker thread. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* The identity store: created on first run (directory 0700, files 0600). */
    struct store_opts so = {.create = true, .audit_max = cfg.audit_max_entries};
    struct store *st = NULL;
    char why[256];
    if (store_open(cfg.store_dir, &so, &st, why, sizeof why) != WD_OK) {
        fprintf(stderr, "warden: store %s: %s\n", cfg.store_dir, why);
        config_fini(&cfg);
        return 1;
    }
    struct backend_ops ops;
    store_backend_ops(st, &ops);

    struct broker *b = broker_new(&cfg, &ops);
    if (!b) {
        config_fini(&cfg);
        store_close(st);
        return 1;
    }
    admin_edit_setup(cli_exec, st, &b->cfg, &ops); /* console and admin socket edits */
    /* The admin socket: attached consoles. Without it the broker still serves MQTT. */
    char sock_path[4096], listeners[256];
    admin_sock_path(b->cfg.admin_socket, b->cfg.store_dir, sock_path, sizeof sock_path);
    describe_listeners(b, listeners, sizeof listeners);
    struct admin_sock *as = NULL;
    if (admin_sock_new(admin_of(b), sock_path, WARDEN_VERSION, listeners, &as, why,
                       sizeof why) != WD_OK)
        log_warning("no admin socket (warden console cannot attach): %s", why);
    if (!no_console && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
        run_console(b);
    else
        broker_run(b);
    admin_sock_free(as);
    int rc = b->exit_code;
    broker_free(b);
    store_close(st);
    return rc;
}
