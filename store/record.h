/*
 * record.h - PURE encoding of the store's records: structs <-> bytes.
 *
 * Every value starts with a version byte for its record type, so that a
 * record written by an older Warden is still recognised (and migrated, see
 * schema.c). After it come fixed-size big-endian integers and strings as a
 * u32 length plus bytes (no NUL inside). Decoders treat their input as
 * untrusted: every length is checked against the bytes left, every enum and
 * flag against its range, trailing bytes are refused, and anything wrong
 * gives WD_EMALFORMED. No LMDB, no globals, no logging.
 *
 * Keys: users and roles by name; bindings and bans by a kind byte followed
 * by the pattern or value; audit entries by their sequence number (u64 BE);
 * meta by the key "meta". Certificates (record_cert_key): kind byte, then for
 * a pin the user name and a 0 byte, then the 32-byte SHA-256 of the DER; so
 * one user's pins sit together and a revocation or sighting is one key.
 */
#ifndef WD_RECORD_H
#define WD_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "err.h"

#define RECORD_USER_V1 1   /* schema 1: no last_login, no note */
#define RECORD_USER_V2 2   /* current */
#define RECORD_ROLE_V1 1   /* schema <= 2: no on_deny */
#define RECORD_ROLE_V2 2   /* current: on_deny policy and strikes after the rules */
#define RECORD_BINDING_V1 1
#define RECORD_BAN_V1 1
#define RECORD_AUDIT_V1 1
#define RECORD_CERT_V1 1
#define RECORD_META_V1 1
#define RECORD_ISSUER_V1 1 /* before introspection: no url, client_id, cache */
#define RECORD_ISSUER_V2 2 /* current */
#define RECORD_SIGNING_V1 1
#define RECORD_REVOKED_V1 1

/* DB_TOKENS keys: a kind byte, then the issuer name, the jti, or "self". */
#define RECORD_TOKEN_SIGNING 0
#define RECORD_TOKEN_ISSUER 1
#define RECORD_TOKEN_REVOKED 2
#define RECORD_MAX_BLOB 65536u    /* key material: a JWKS document at most */

#define RECORD_MAX_STRING 65535u  /* longest string field (an MQTT string at most) */
#define RECORD_MAX_LIST 4096u     /* most roles or rules in one record */

#define RECORD_META_KEY "meta"
#define RECORD_META_SIZE 21       /* version byte + u32 schema + u64 generation + u64 audit_next */

struct record_meta {
    uint32_t schema;        /* schema version of the whole store (schema.c) */
    uint64_t generation;    /* bumped by every identity or permission change */
    uint64_t audit_next;    /* sequence number of the next audit entry */
};

/*
 * Encoders. Returns owned: *out (wd_free), *len its size. WD_OK, WD_ENOMEM,
 * or WD_ETOOLARGE when a string or list exceeds the limits above.
 */
enum wd_err record_encode_user(const struct user *u, uint8_t **out, size_t *len);
/* The schema-1 form of a user (drops last_login and note): for migration tests. */
enum wd_err record_encode_user_v1(const struct user *u, uint8_t **out, size_t *len);
enum wd_err record_encode_role(const struct role *r, uint8_t **out, size_t *len);
/* The schema-2 form of a role (drops on_deny): for migration tests. */
enum wd_err record_encode_role_v1(const struct role *r, uint8_t **out, size_t *len);
enum wd_err record_encode_binding(const struct binding *b, uint8_t **out, size_t *len);
enum wd_err record_encode_ban(const struct ban *b, uint8_t **out, size_t *len);
enum wd_err record_encode_audit(const struct audit_entry *a, uint8_t **out, size_t *len);
/* Any kind of cert record; the key carries kind, user and fingerprint. */
enum wd_err record_encode_cert(const struct cert_rec *r, uint8_t **out, size_t *len);
void record_encode_meta(const struct record_meta *m, uint8_t out[RECORD_META_SIZE]);
enum wd_err record_encode_issuer(const struct token_issuer *i, uint8_t **out, size_t *len);
enum wd_err record_encode_signing(const struct token_signing *k, uint8_t **out, size_t *len);
enum wd_err record_encode_revoked(const struct token_revoked *r, uint8_t **out, size_t *len);

/*
 * Decoders: key and value as stored. WD_OK, WD_EMALFORMED or WD_ENOMEM.
 * Returns owned: *out (backend_user_free / backend_role_free); for the
 * struct-filling decoders the caller frees the fields with the matching
 * backend_*_fini(). Nothing is left allocated on failure.
 */
enum wd_err record_decode_user(const void *key, size_t klen, const void *val, size_t vlen,
                               struct user **out);
enum wd_err record_decode_role(const void *key, size_t klen, const void *val, size_t vlen,
                               struct role **out);
enum wd_err record_decode_binding(const void *key, size_t klen, const void *val, size_t vlen,
                                  struct binding *out);
enum wd_err record_decode_ban(const void *key, size_t klen, const void *val, size_t vlen,
                              struct ban *out);
enum wd_err record_decode_audit(const void *key, size_t klen, const void *val, size_t vlen,
                                struct audit_entry *out);
enum wd_err record_decode_cert(const void *key, size_t klen, const void *val, size_t vlen,
                               struct cert_rec *out);
enum wd_err record_decode_meta(const void *val, size_t vlen, struct record_meta *out);
/* DB_TOKENS: free with backend_issuer_fini / backend_revoked_fini; the signing keys own
 * nothing (wipe them). */
enum wd_err record_decode_issuer(const void *key, size_t klen, const void *val, size_t vlen,
                                 struct token_issuer *out);
enum wd_err record_decode_signing(const void *key, size_t klen, const void *val, size_t vlen,
                                  struct token_signing *out);
enum wd_err record_decode_revoked(const void *key, size_t klen, const void *val, size_t vlen,
                                  struct token_revoked *out);

/* The version byte of a stored value (0 for an empty value). */
uint8_t record_version(const void *val, size_t vlen);

/*
 * Key of a binding or ban: kind byte + text. Returns owned: *out (wd_free).
 * WD_OK, WD_ENOMEM, WD_ETOOLARGE.
 */
enum wd_err record_kind_key(uint8_t kind, const char *text, uint8_t **out, size_t *len);
/*
 * Key of a cert record: kind, user (CERTREC_PIN only, else ignored), fingerprint.
 * Returns owned: *out (wd_free). WD_OK, WD_ENOMEM, WD_ETOOLARGE, WD_EINVAL (a pin
 * without a user, or a user with a 0 byte is impossible in C strings).
 */
enum wd_err record_cert_key(uint8_t kind, const char *user, const uint8_t fp[CERT_FP_LEN],
                            uint8_t **out, size_t *len);
/* Key of an audit entry. */
void record_audit_key(uint64_t seq, uint8_t out[8]);

#endif
