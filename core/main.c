/*
 * main.c - the composition root: argv, modes, configuration, wiring.
 *
 *   warden [-c FILE] [-p PORT] [--store DIR] [--no-console] [-v]   run the broker
 *   warden check -c FILE                                            validate a configuration
 *   warden --help | --version
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "cli.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "../store/store.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: warden [-c FILE] [-p PORT] [--store DIR] [--no-console] [-v]\n"
            "       warden check -c FILE\n"
            "       warden --help | --version\n"
            "\n"
            "  -c, --config FILE   read the configuration from FILE (Mosquitto-style key value lines)\n"
            "  -p, --port PORT     without -c: the embedded default on 127.0.0.1:PORT\n"
            "      --store DIR     store directory (overrides store_dir)\n"
            "      --no-console    run headless (the default when stdin is not a terminal)\n"
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

int main(int argc, char **argv)
{
    if (cli_is_command(argc, argv))
        return cli_main(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "check"))
        return cmd_check(argc - 1, argv + 1);
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
    bool verbose = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:p:vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': file = optarg; break;
        case 'p': port_arg = optarg; break;
        case 'S': store = optarg; break;
        case 'N': break; /* the console arrives in a later release: always headless */
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
    broker_run(b);
    int rc = b->exit_code;
    broker_free(b);
    store_close(st);
    return rc;
}
