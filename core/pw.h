/*
 * pw.h - password hashing and verification.
 *
 * New hashes are Argon2id strings ("$argon2id$v=19$m=..,t=..,p=1$..") made by
 * libsodium. Hashes imported from Mosquitto verify as they are: "$6$SALT$HASH"
 * (base64 of SHA-512(password || salt)) and "$7$ITER$SALT$HASH" (PBKDF2-HMAC-
 * SHA512, ITER iterations, 64-byte key), via wolfCrypt; pw_needs_rehash() then
 * tells the caller to replace them with Argon2id after a successful login.
 * Argon2id costs ~20 ms at the defaults: call pw_hash/pw_verify on an auth
 * worker or in the CLI, never on the broker thread. Nothing here logs, and
 * passwords are never copied beyond what the hash functions need.
 * Thread: any (after pw_init(); every function also calls it).
 */
#ifndef WD_PW_H
#define WD_PW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define PW_HASH_MAX 128 /* crypto_pwhash_STRBYTES: an Argon2id string with its NUL */

/* Defaults of `password_opslimit` and `password_memlimit` (issue 3). */
#define PW_DEFAULT_OPSLIMIT 2ULL
#define PW_DEFAULT_MEMLIMIT ((size_t)19 * 1024 * 1024)

/* Upper bounds a stored hash may ask for before pw_verify() calls it
 * PW_UNSUPPORTED, so that a hand-edited or imported file cannot make one
 * verification take minutes or gigabytes. */
#define PW_PBKDF2_ITER_MAX 10000000UL       /* "$7$" iterations */
#define PW_ARGON2_MEM_MAX_KIB (1024UL * 1024) /* 1 GiB */
#define PW_ARGON2_OPS_MAX 1000UL

enum pw_verdict {
    PW_MATCH,       /* the password is right */
    PW_MISMATCH,    /* a well-formed hash of another password */
    PW_UNSUPPORTED, /* unknown scheme, malformed string, or parameters past the limits */
};

/*
 * Initialise libsodium (sodium_init). Safe to call any number of times from
 * any thread. If libsodium cannot initialise (no entropy source), it prints
 * one line to stderr and aborts: this can only happen at startup.
 */
void pw_init(void);

/*
 * Hash pw[0..len) with Argon2id (crypto_pwhash_str_alg, ALG_ARGON2ID13).
 * in:  opslimit, memlimit (bytes) as in the configuration.
 * out: out, a NUL-terminated "$argon2id$..." string.
 * Returns WD_OK; WD_EINVAL for parameters or a length libsodium refuses;
 * WD_ENOMEM when the memlimit cannot be allocated.
 */
enum wd_err pw_hash(const char *pw, size_t len, unsigned long long opslimit, size_t memlimit,
                    char out[PW_HASH_MAX]);

/*
 * Check pw[0..len) against a stored hash string (NUL-terminated): Argon2id,
 * Mosquitto "$6$" or "$7$". Comparisons are constant-time (sodium_memcmp);
 * anything malformed or unknown is PW_UNSUPPORTED, never a crash.
 * Note: Argon2id verification of a corrupt but plausible string reports
 * PW_MISMATCH, as libsodium does not tell the two apart; a string whose
 * parameters cannot be parsed is PW_UNSUPPORTED.
 */
enum pw_verdict pw_verify(const char *stored, const char *pw, size_t len);

/*
 * Is stored a hash string pw_verify() understands, with parameters inside the
 * limits above? Parses only (no hashing), so an importer can check every line
 * cheaply. pw_verify() of a well-formed string never returns PW_UNSUPPORTED.
 */
bool pw_well_formed(const char *stored);

/*
 * Should a stored hash be replaced after a successful login? True for "$6$",
 * "$7$", unknown schemes, another Argon2 version, and Argon2id hashes weaker
 * than the given parameters (t < opslimit or m < memlimit); false for a hash
 * equal to or stronger than them, so lowering the configuration does not
 * churn the store.
 */
bool pw_needs_rehash(const char *stored, unsigned long long opslimit, size_t memlimit);

/*
 * The verified-credential cache key: a keyed BLAKE2b (libsodium generic hash)
 * of user name and password under a random key drawn once per process, so
 * the cache never holds a password or anything that could be checked
 * against one outside this process.
 */
#define PW_CACHE_KEY_BYTES 32
void pw_cache_key(uint8_t out[PW_CACHE_KEY_BYTES], const char *user, size_t ulen,
                  const void *pw, size_t plen);

/*
 * A random printable password: out[0..len-1) from the base64url alphabet
 * (6 random bits a character, from randombytes_buf), then a NUL.
 * in:  len, the size of out including the NUL; at least 2.
 * Returns WD_OK or WD_EINVAL (len < 2).
 */
enum wd_err pw_generate(char *out, size_t len);

/*
 * Wall time in milliseconds of one pw_verify() of an Argon2id hash made with
 * these parameters (the hash itself is made first and not counted). For
 * `warden store tune` and the README figure. Returns -1.0 if hashing fails.
 */
double pw_measure_ms(unsigned long long opslimit, size_t memlimit);

#endif
