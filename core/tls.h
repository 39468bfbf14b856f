/*
 * tls.h - TLS for listeners, on WolfSSL: per-listener server contexts, a
 * non-blocking handshake and record I/O per connection, and what the broker
 * learns from a client certificate (identity, subject, fingerprint, ...).
 *
 * tls.c is the only file that includes WolfSSL headers; everything here is
 * plain C. A context is reference counted: connections keep the context
 * they were accepted with, so a SIGHUP reload that swaps the listener's
 * context never disturbs them. Thread: broker (tls_global_init: main thread
 * before any other TLS call).
 */
#ifndef WD_TLS_H
#define WD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

struct tls_ctx;
struct tls_conn;

/* What a finished handshake tells about the peer. All strings NUL-terminated. */
struct tls_info {
    char version[16];          /* "TLSv1.3" */
    char cipher[64];           /* negotiated suite, WolfSSL's name */
    bool has_cert;             /* the client presented a certificate and it verified */
    char identity[256];        /* per cert_identity (CN or first SAN of the kind); "" if none */
    char cn[128];              /* subject CN; "" if none */
    char subject[256];         /* RFC 2253, most specific first: "CN=client1,O=Example" */
    char issuer[256];          /* RFC 2253 */
    char sans[512];            /* "DNS:a, URI:b, email:c, IP:1.2.3.4" */
    char fingerprint[65];      /* SHA-256 of the certificate DER, lower-case hex */
    int64_t not_after;         /* expiry, seconds since the epoch */
};

/*
 * Initialise WolfSSL once per process (idempotent). Its allocations then go
 * through mem.h, so TLS memory shows in mem_in_use(). WD_OK or WD_EIO.
 */
enum wd_err tls_global_init(void);

/*
 * Build a server context from a listener's TLS keys: certificate chain,
 * key, CAs, CRL, minimum version, an explicit cipher list that never
 * contains NULL, RC4, anonymous, export, DES or MD5 suites.
 * name: the listener, for messages. On failure *why says what is wrong.
 * Returns owned: *out, release with tls_ctx_unref(). WD_OK, WD_ECONFIG, WD_ENOMEM.
 */
enum wd_err tls_ctx_new(const struct config_tls *t, const char *name, struct tls_ctx **out,
                        char *why, size_t whylen);
/* Drop one reference; the last one frees the context. NULL is a no-op. */
void tls_ctx_unref(struct tls_ctx *ctx);

/*
 * Has the context's CRL passed its nextUpdate since the context was built?
 * The broker then rebuilds the context, which applies crl_expired_policy.
 */
bool tls_ctx_crl_stale(const struct tls_ctx *ctx, int64_t now);

/*
 * A connection on the non-blocking socket fd (not owned: the caller closes
 * it after tls_conn_free). Takes a reference on ctx. NULL when out of memory.
 */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd);
/* Send close_notify if the handshake finished (best effort), free. NULL is a no-op. */
void tls_conn_free(struct tls_conn *t);

/*
 * Drive the handshake. WD_OK: done, tls_conn_info() is filled. WD_EAGAIN:
 * call again when the socket is readable (or writable if tls_want_write()).
 * WD_EIO or WD_EDENIED: failed, tls_conn_error() says why; close the socket.
 */
enum wd_err tls_handshake(struct tls_conn *t);

/*
 * Like recv()/send() on the socket, for application data. WD_OK with *n > 0;
 * WD_EAGAIN (wait for readable, or writable if tls_want_write()); WD_ECLOSED
 * when the peer closed; WD_EIO on an error (tls_conn_error()). tls_send may
 * write part of the buffer.
 */
enum wd_err tls_recv(struct tls_conn *t, void *buf, size_t cap, size_t *n);
enum wd_err tls_send(struct tls_conn *t, const void *buf, size_t len, size_t *n);

/* Decrypted bytes WolfSSL holds that the socket will not signal again. */
bool tls_pending(const struct tls_conn *t);
/* The last WD_EAGAIN waits for the socket to become writable. */
bool tls_want_write(const struct tls_conn *t);
/* Borrows: valid until tls_conn_free. Meaningful after tls_handshake() returned WD_OK. */
const struct tls_info *tls_conn_info(const struct tls_conn *t);
/* Borrows: the reason of the last failure ("" if none), valid until the next call. */
const char *tls_conn_error(const struct tls_conn *t);

/*
 * Read a certificate file (PEM: its first certificate; or DER) for the admin
 * commands: fingerprint, subject, issuer, CN (as identity), SANs, expiry into
 * *out (version and cipher empty). No verification: a pin or revocation
 * names a certificate, whoever signed it. WD_OK; WD_EIO (unreadable) or
 * WD_EINVAL (not a certificate) with why; WD_ENOMEM. Thread: any.
 */
enum wd_err tls_cert_file(const char *path, struct tls_info *out, char *why, size_t whylen);

/* Name of a cert_identity value ("cn", "san_dns", ...), for messages. */
const char *tls_identity_name(enum config_cert_identity id);

#endif
