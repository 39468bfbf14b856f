/*
 * cli.h - the scriptable admin commands: `warden user|role|client|ban|audit|
 * store ...`. They act on the store directly (LMDB allows several processes,
 * so they work while the broker runs); every change is one transaction with
 * its audit entry. Output: tables for people, --json for scripts. Exit
 * status: 0 success, 1 the command failed (one-line reason on stderr), 2 the
 * command line is malformed.
 */
#ifndef WD_CLI_H
#define WD_CLI_H

#include <stdbool.h>
#include <stdio.h>

struct config;
struct store;

/* Does argv (as main() got it) ask for an admin command? The first word that is not
 * -c FILE, --store DIR or --json must be a group ("user", "role", ...). */
bool cli_is_command(int argc, char **argv);

/*
 * Run one admin command: argv holds main()'s arguments after the program name;
 * `-c FILE`, `--store DIR`, `--json` and `--help` may stand anywhere. Returns the exit
 * status. Thread: the main thread of a CLI process (it reads the terminal
 * and may install SIGINT/SIGTERM handlers for `audit --follow`).
 */
int cli_main(int argc, char **argv);

/*
 * Run one admin command (argv: the words and arguments after `warden`, no
 * global options) inside the broker process on its open store st, as actor,
 * with --json output written to out and nothing on stderr or from stdin:
 * password stands for the typed or piped password (NULL: none given).
 * Thread: any, one call at a time per process (core/admin_edit.c serialises).
 * Returns the exit status: 0, 1 (failed: out holds {"ok":false,...}), 2.
 */
int cli_exec(struct store *st, const struct config *cfg, const char *actor, const char *password,
             int argc, char **argv, FILE *out);

#endif
