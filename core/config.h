/*
 * config.h - the configuration: Mosquitto-style "key value" lines.
 *
 * `#` starts a comment line; blank lines are ignored. `listener PORT [ADDRESS]`
 * starts a listener section: listener keys that follow apply to it. Global
 * keys may stand anywhere and are global. Unknown keys, bad values, a
 * listener key before any listener, and duplicate listeners are errors that
 * name FILE:LINE and the problem. Pure parsing: no sockets, no globals.
 */
#ifndef WD_CONFIG_H
#define WD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum config_log_level {
    LOG_LVL_ERROR,
    LOG_LVL_WARNING,
    LOG_LVL_NOTICE,
    LOG_LVL_INFO,
    LOG_LVL_DEBUG,
};
enum config_log_dest { LOG_DEST_STDERR, LOG_DEST_SYSLOG };

enum config_tls_version { TLS_V12, TLS_V13 };
enum config_cert_identity { CERT_ID_CN, CERT_ID_SAN_DNS, CERT_ID_SAN_URI, CERT_ID_SAN_EMAIL };
enum config_crl_policy { CRL_EXPIRED_REJECT, CRL_EXPIRED_WARN };

/* A listener's TLS keys (Mosquitto's names). TLS is on when certfile is set. */
struct config_tls {
    char *certfile;                  /* owned; server certificate chain, PEM */
    char *keyfile;                   /* owned; its private key, PEM */
    char *cafile;                    /* owned; CAs that sign client certificates, PEM */
    char *capath;                    /* owned; directory of such CAs */
    char *crlfile;                   /* owned; CRL(s), PEM or DER; reloaded on SIGHUP */
    char *ciphers;                   /* owned; TLS 1.2 cipher list, NULL = Warden's default */
    char *ciphersuites;              /* owned; TLS 1.3 suites, NULL = Warden's default */
    bool require_certificate;        /* refuse clients without a valid certificate */
    bool use_identity_as_username;   /* the certificate identity is the user name */
    bool use_subject_as_username;    /* the whole subject (RFC 2253) is the user name */
    bool cert_requires_user;         /* the certificate identity must be a user in the store */
    enum config_tls_version tls_version;      /* minimum, default TLS_V12 */
    uint32_t handshake_timeout;      /* tls_handshake_timeout, seconds, default 10 */
    enum config_cert_identity cert_identity;  /* default CERT_ID_CN */
    enum config_crl_policy crl_expired_policy; /* default CRL_EXPIRED_WARN */
};

/* What anonymous clients may do where no rule says: deny (default) or allow. */
enum config_anon_default { ANON_DEFAULT_DENY, ANON_DEFAULT_ALLOW };
/* auth_tokens: may a CONNECT password be an access token (JWT)? ONLY: and nothing else. */
enum config_auth_tokens { AUTH_TOKENS_FALSE, AUTH_TOKENS_TRUE, AUTH_TOKENS_ONLY };

struct config_listener {
    uint16_t port;                   /* 0 = pick a free port (tests) */
    char *address;                   /* owned; bind address, "127.0.0.1", "::1", "0.0.0.0", "::" */
    bool allow_anonymous;            /* default false (the embedded default's listener: true) */
    bool allow_anonymous_set;        /* given explicitly */
    char *clientid_pattern;          /* owned or NULL: POSIX ERE a client id must match */
    uint32_t max_clientid_length;    /* 0 = no limit */
    bool clientid_bound_only;        /* refuse client ids that have no binding */
    bool allow_zero_length_clientid; /* give empty client ids one of ours (default true) */
    enum config_anon_default anonymous_default; /* anonymous clients when no rule matches */
    enum config_auth_tokens auth_tokens;        /* default AUTH_TOKENS_FALSE */
    int line;                        /* line of its `listener` key (0 = built in) */
    bool http;                       /* an `http_listener`: the OAuth 2.0 token endpoint */
    struct config_tls tls;           /* TLS keys; tls.certfile NULL = plain TCP */
};

struct config {
    char *path;                      /* owned; file it came from, NULL = embedded default */
    struct config_listener *listeners; /* owned array */
    size_t nlisteners;
    char *store_dir;                 /* owned; default "./warden-data" */
    char *admin_socket;              /* owned; NULL = STORE_DIR/admin.sock */
    uint32_t max_connections;        /* default 2048; 0 = unlimited */
    uint32_t max_packet_size;        /* bytes, default 1048576; applies both directions */
    uint32_t max_inflight_messages;  /* default 20: our Receive Maximum and outbound window cap */
    uint32_t max_queued_messages;    /* per session, default 1000 */
    uint64_t max_queued_bytes;       /* per session, default 16 MiB; 0 = unlimited */
    uint32_t max_topic_length;       /* bytes, default 1024 */
    uint32_t max_topic_levels;       /* default 64 */
    uint32_t max_subscriptions_per_client; /* default 256; 0 = unlimited */
    uint32_t max_keepalive;          /* seconds, default 65535 */
    uint32_t topic_alias_maximum;    /* default 10; 0 = no inbound aliases */
    uint32_t max_qos;                /* 0..2, default 2 */
    bool retain_available;           /* default true */
    uint32_t connect_timeout;        /* seconds to receive CONNECT, default 10 */
    uint32_t sys_interval;           /* seconds between $SYS updates, default 10; 0 = off */
    enum config_log_level log_level; /* default LOG_LVL_INFO */
    enum config_log_dest log_dest;   /* default LOG_DEST_STDERR */
    uint32_t password_opslimit;      /* Argon2id passes for new hashes, default 2 */
    uint64_t password_memlimit;      /* Argon2id memory for new hashes, bytes, default 19 MiB */
    uint32_t password_min_length;    /* admin commands refuse shorter passwords, default 12 */
    uint32_t audit_max_entries;      /* size of the store's audit ring, default 10000 */
    uint32_t auth_workers;           /* threads verifying passwords, default 1 */
    uint32_t max_pending_auth;       /* connects waiting for a worker, default 256; then 0x89 */
    uint32_t auth_cache_seconds;     /* verified-credential cache lifetime, default 300; 0 = off */
    uint32_t auth_fail_delay_after;  /* failures before CONNACKs are delayed, default 3 */
    uint32_t auth_fail_ban_after;    /* failures in the window before a ban, default 10 */
    uint32_t auth_fail_window;       /* seconds failures are counted over, default 300 */
    uint32_t auth_ban_duration;      /* seconds a brute-force ban lasts, default 600 */
    uint32_t max_connections_per_address; /* open at once from one address; 0 = no limit */
    uint32_t connect_rate_per_address;    /* new connections a second from one address; 0 = no limit */
    uint32_t oauth_token_ttl;        /* seconds a token from the OAuth endpoint lives, default 3600 */
    uint32_t token_leeway;           /* seconds of clock skew allowed on nbf and iat, default 30 */
    uint32_t introspect_timeout;     /* seconds one token introspection call may take, default 3 */
};

/* One error: file (NULL for the command line), line (0 = none), message. */
typedef void (*config_report_fn)(void *ctx, const char *file, int line, const char *msg);

/* Fill cfg with the built-in defaults and no listeners. */
void config_defaults(struct config *cfg);

/*
 * The embedded default: defaults plus one listener on 127.0.0.1:port
 * (1883 normally) allowing anonymous clients. WD_OK or WD_ENOMEM.
 */
enum wd_err config_embedded(struct config *cfg, uint16_t port);

/*
 * Parse the text of a configuration file into cfg (which the caller has
 * set with config_defaults()). Every problem is reported through report,
 * which is called once per error with the file name and line. If the file
 * defines no listener, the embedded default listener is added.
 * Returns WD_OK, WD_ECONFIG (at least one error reported; cfg then holds
 * what could be parsed and must still be freed) or WD_ENOMEM.
 */
enum wd_err config_parse(struct config *cfg, const char *file, const char *text, size_t len,
                         config_report_fn report, void *ctx);

/* Read path and config_parse() it. An unreadable file is reported as an error. */
enum wd_err config_load(struct config *cfg, const char *path, config_report_fn report, void *ctx);

/* Replace store_dir (the --store option). Takes: dir (wd_malloc'd). */
void config_set_store_dir(struct config *cfg, char *dir);

/* Free what cfg owns; cfg is then zeroed. */
void config_fini(struct config *cfg);

/* Free the strings of t and zero it (config_fini does this for every listener). */
void config_tls_fini(struct config_tls *t);

/* Is address a loopback address (127.0.0.0/8, ::1, "localhost")? */
bool config_is_loopback(const char *address);

/* Name of a log level ("info"), for messages. */
const char *config_log_level_name(enum config_log_level l);

#endif
