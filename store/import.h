/*
 * import.h - PURE parsers for Mosquitto's security files, for
 * `warden import mosquitto [--passwd FILE] [--acl FILE] [--dynsec FILE]`.
 *
 * Each parser reads a whole file from memory and appends plain owned records
 * to one struct import; the caller then writes them to the store in one
 * transaction (all or nothing). No LMDB and no I/O here, except
 * import_read_file(). Mapping (issue 3):
 *   password file  "user:hash"            -> users with the hash kept as is
 *   acl_file       user/topic/pattern     -> rules in file order, each with its scope
 *   dynamic-security JSON                 -> users (roles flattened) and roles (sorted rules)
 * A file that cannot be understood fails with WD_EMALFORMED and
 * "FILE:LINE: reason" in imp->err, unless IMPORT_SKIP_BAD is given: then bad
 * lines (or dynsec entries) are skipped and counted in imp->skipped, and
 * imp->err keeps the first one's message.
 * Thread: any; a struct import belongs to one thread.
 */
#ifndef WD_IMPORT_H
#define WD_IMPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define IMPORT_ERR_MAX 256                 /* size of imp->err, with its NUL */
#define IMPORT_FILE_MAX (64u * 1024 * 1024) /* default limit of import_read_file() */

/* Flags for the parsers. */
#define IMPORT_SKIP_BAD 0x1u /* skip and count bad lines instead of failing */

/* Rule actions (the store's publish, subscribe, receive). */
#define IMPORT_PUBLISH 0x1u
#define IMPORT_SUBSCRIBE 0x2u
#define IMPORT_RECEIVE 0x4u
#define IMPORT_ALL (IMPORT_PUBLISH | IMPORT_SUBSCRIBE | IMPORT_RECEIVE)

/* Whom an acl_file rule applies to. */
enum import_scope {
    IMPORT_SCOPE_ANON,    /* `topic` before any `user` line: clients without a username */
    IMPORT_SCOPE_USER,    /* `topic` after `user NAME`: that user only (rule.user) */
    IMPORT_SCOPE_PATTERN, /* `pattern`: every client; %u/%c substituted at check time */
    IMPORT_SCOPE_ROLE,    /* a dynsec role's rule (in struct import_role) */
};

/*
 * One rule. Mosquitto's "read" is subscribe+receive, "write" publish,
 * "readwrite" all three, "deny" deny all three. The filter passed
 * topic_validate_filter() (with %u and %c standing for one level's text);
 * a `topic` line may not contain %u or %c, since Mosquitto does not
 * substitute there but Warden would, and no rule may contain %cn (Mosquitto's
 * client id followed by 'n', Warden's certificate name).
 */
struct import_rule {
    enum import_scope scope; /* see above */
    char *user;              /* IMPORT_SCOPE_USER: owned user name; otherwise NULL */
    bool allow;              /* false: deny */
    unsigned actions;        /* IMPORT_* bits, never 0 */
    char *filter;            /* owned, NUL-terminated, valid UTF-8 */
    int priority;            /* dynsec: the acl's priority; acl_file: 0 */
    unsigned line;           /* acl_file: 1-based source line; dynsec: 0 */
};

struct import_user {
    char *name;      /* owned, valid UTF-8, unique within the struct import */
    char *hash;      /* owned "$6$", "$7$" or "$argon2id$" string (pw_well_formed()), or
                        NULL: no password (a dynsec client without one) */
    char *textname;  /* dynsec "textname", owned; NULL if absent */
    char *textdescription; /* dynsec "textdescription", owned; NULL if absent */
    char *clientid;  /* dynsec "clientid": the only client id it may use; NULL if absent */
    bool disabled;   /* dynsec "disabled" */
    char **roles;    /* dynsec: owned role names, in Mosquitto's check order (own roles
                        by priority, then each group by priority with its roles by
                        priority), no duplicates; every name is in imp->roles */
    size_t nroles;
    unsigned line;   /* password file: 1-based source line; dynsec: 0 */
};

struct import_role {
    char *name;                /* owned, unique among imp->roles */
    char *textname;            /* dynsec "textname", owned; NULL if absent */
    char *textdescription;     /* dynsec "textdescription", owned; NULL if absent */
    struct import_rule *rules; /* owned; priority descending, file order among equals */
    size_t nrules;
};

/* dynsec "defaultACLAccess": what applies when no rule matches. */
struct import_default_acl {
    bool present;         /* the file had the object; otherwise the fields are Mosquitto's
                             defaults (send false, receive true, subscribe false,
                             unsubscribe true) */
    bool publish_send;    /* publishClientSend */
    bool publish_receive; /* publishClientReceive */
    bool subscribe;       /* subscribe */
    bool unsubscribe;     /* unsubscribe (Warden does not check unsubscribe) */
};

/*
 * Everything imported so far. Arrays grow as parsers append; pointers into
 * them are invalidated by the next parser call. Owns every string and array
 * in it; import_fini() frees them.
 */
struct import {
    struct import_user *users; /* password file and dynsec clients, in file order */
    size_t nusers;
    struct import_role *roles; /* dynsec roles, in file order */
    size_t nroles;
    struct import_rule *rules; /* acl_file rules in Mosquitto's check order: per file, the
                                  deny rules first, then the allow rules, each in file
                                  order (Mosquitto moves "deny" lines to the front);
                                  Mosquitto checks a client's own (user or anonymous)
                                  rules before the patterns */
    size_t nrules;
    char **anon_roles;         /* dynsec "anonymousGroup"'s roles by priority; owned */
    size_t nanon_roles;
    struct import_default_acl default_acl; /* dynsec only */
    size_t skipped;            /* bad lines/entries skipped under IMPORT_SKIP_BAD */
    size_t ignored;            /* valid entries with no Warden meaning: dynsec
                                  unsubscribe ACLs */
    char err[IMPORT_ERR_MAX];  /* "FILE:LINE: reason" of the failure or the first skip */
    /* private: name -> index into users, for duplicate checks */
    size_t *user_slots;
    size_t user_cap;
};

/* Start empty. Cannot fail. */
void import_init(struct import *imp);

/* Free everything imp owns and leave it empty (import_init state). */
void import_fini(struct import *imp);

/*
 * Parse a Mosquitto password file: lines "user:hash" (blanks around either
 * part trimmed), '#' comments and blank lines. hash must pass pw_well_formed()
 * (no plain-text passwords). A user already in imp is a bad line.
 * in:  file, a name for messages only; data[0..len), need not be NUL-terminated.
 * Returns WD_OK, WD_EMALFORMED (imp->err says where), WD_ENOMEM. On an error
 * imp may hold part of the file: the caller discards the whole import.
 * Borrows: file and data during the call only; everything appended is copied.
 */
enum wd_err import_passwd(struct import *imp, const char *file, const char *data, size_t len,
                          unsigned flags);

/*
 * Parse a Mosquitto acl_file into imp->rules: `user NAME`, `topic [read|write|
 * readwrite|deny] FILTER` (no access word: readwrite), `pattern [ACCESS]
 * FILTER`, '#' comments, blank lines. FILTER is the rest of the line (it may
 * hold spaces; trailing blanks trimmed). Users named here need not exist in imp.
 * Same returns, flags and ownership as import_passwd().
 */
enum wd_err import_acl(struct import *imp, const char *file, const char *data, size_t len,
                       unsigned flags);

/*
 * Parse a dynamic-security JSON file (jansson): "roles", "clients", "groups",
 * "anonymousGroup", "defaultACLAccess". Client passwords (hash, salt,
 * iterations) become "$7$ITER$SALT$HASH". acltype publishClientSend ->
 * publish, publishClientReceive -> receive, subscribeLiteral/subscribePattern
 * -> subscribe (a literal rule becomes a pattern rule), unsubscribe* ->
 * counted in imp->ignored. A JSON syntax error names FILE:LINE; a bad entry
 * names its path ("FILE: clients[2].roles[0]: unknown role 'x'"), and under
 * IMPORT_SKIP_BAD that entry (client, group or role) is skipped whole.
 * Same returns and ownership as import_passwd().
 */
enum wd_err import_dynsec(struct import *imp, const char *file, const char *data, size_t len,
                          unsigned flags);

/*
 * Read a whole file into memory.
 * out: *data (owned, free with wd_free(); NUL-terminated after *len bytes), *len.
 * in:  max, the largest size accepted (0: IMPORT_FILE_MAX).
 * Returns WD_OK, WD_EIO (err holds "PATH: strerror"), WD_ETOOLARGE, WD_ENOMEM.
 */
enum wd_err import_read_file(const char *path, size_t max, char **data, size_t *len,
                             char err[IMPORT_ERR_MAX]);

#endif
