/*
 * pw.c - Argon2id hashing (libsodium) and verification of the hash formats
 * Warden stores: its own Argon2id strings and Mosquitto's "$6$" (salted
 * SHA-512) and "$7$" (PBKDF2-HMAC-SHA512) lines, kept as imported until the
 * user's next successful login re-hashes them.
 *
 * Stored strings are untrusted input (the store or an imported file): every
 * field is parsed strictly and bounded before any hashing, so a bad string
 * gives PW_UNSUPPORTED and a huge cost parameter cannot stall a worker.
 * Digests are compared with sodium_memcmp (constant time) and wiped after use.
 * Workload: one verification per uncached login; Argon2id ~20 ms, "$7$" with
 * Mosquitto's 101 iterations well under 1 ms.
 */
#include "pw.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/pwdbased.h>
#include <wolfssl/wolfcrypt/sha512.h>

_Static_assert(PW_HASH_MAX == crypto_pwhash_STRBYTES, "PW_HASH_MAX must match libsodium");

#define ARGON2ID_PREFIX "$argon2id$"
#define SHA512_LEN 64   /* digest and PBKDF2 key length of Mosquitto's hashes */
#define SALT_MAX 64     /* Mosquitto uses 12 bytes; its dynsec loader accepts up to 64 */
#define ARGON2_VERSION 19 /* 0x13, the only version libsodium writes */

void pw_init(void)
{
    if (sodium_init() < 0) {
        fputs("warden: libsodium failed to initialise\n", stderr);
        abort();
    }
}

/* The per-process key of pw_cache_key(), drawn once. */
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;
static uint8_t cache_key[crypto_generichash_KEYBYTES];

static void cache_key_init(void)
{
    pw_init();
    randombytes_buf(cache_key, sizeof cache_key);
}

void pw_cache_key(uint8_t out[PW_CACHE_KEY_BYTES], const char *user, size_t ulen,
                  const void *pw, size_t plen)
{
    pthread_once(&cache_key_once, cache_key_init);
    /* Length-prefixed parts, so that ("ab","c") and ("a","bc") differ. */
    uint64_t lens[2] = {ulen, plen};
    crypto_generichash_state st;
    crypto_generichash_init(&st, cache_key, sizeof cache_key, PW_CACHE_KEY_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)lens, sizeof lens);
    crypto_generichash_update(&st, (const unsigned char *)user, ulen);
    crypto_generichash_update(&st, pw, plen);
    crypto_generichash_final(&st, out, PW_CACHE_KEY_BYTES);
    sodium_memzero(&st, sizeof st);
}

enum wd_err pw_hash(const char *pw, size_t len, unsigned long long opslimit, size_t memlimit,
                    char out[PW_HASH_MAX])
{
    if (!out)
        return WD_EINVAL;
    pw_init();
    out[0] = '\0';
    if (!pw && len)
        return WD_EINVAL;
    if (len > crypto_pwhash_argon2id_PASSWD_MAX ||
        opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
        opslimit > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
        memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
        memlimit > crypto_pwhash_argon2id_MEMLIMIT_MAX)
        return WD_EINVAL;
    if (crypto_pwhash_str_alg(out, pw ? pw : "", len, opslimit, memlimit,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        out[0] = '\0';
        return WD_ENOMEM; /* parameters were checked: only the allocation can fail */
    }
    return WD_OK;
}

/*
 * Parse a decimal number of 1..20 digits at *p, no sign, no overflow past
 * max. Advances *p past the digits. false if there are none or it is too big.
 */
static bool parse_num(const char **p, unsigned long long max, unsigned long long *out)
{
    const char *s = *p;
    unsigned long long v = 0;
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        unsigned d = (unsigned)(s[n] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
        n++;
    }
    if (n == 0)
        return false;
    *p = s + n;
    *out = v;
    return true;
}

/* Skip the literal `lit` at *p; false (and *p unchanged) if it is not there. */
static bool skip(const char **p, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(*p, lit, n) != 0)
        return false;
    *p += n;
    return true;
}

/* Cost parameters of an Argon2id string, as its header states them. */
struct argon2_params {
    unsigned long long v; /* version: 19 (0x13) for every current hash */
    unsigned long long m; /* memory in KiB */
    unsigned long long t; /* passes (libsodium's opslimit) */
    unsigned long long p; /* lanes */
};

/*
 * Parse "$argon2id$v=V$m=M,t=T,p=P$" at the start of s. The salt and hash
 * after it are left to libsodium. false on any deviation or a value past the
 * PW_ARGON2_* limits.
 */
static bool parse_argon2id(const char *s, struct argon2_params *a)
{
    const char *p = s;
    if (strnlen(s, PW_HASH_MAX) >= PW_HASH_MAX)
        return false;
    return skip(&p, ARGON2ID_PREFIX "v=") && parse_num(&p, 255, &a->v) && skip(&p, "$m=") &&
           parse_num(&p, PW_ARGON2_MEM_MAX_KIB, &a->m) && skip(&p, ",t=") &&
           parse_num(&p, PW_ARGON2_OPS_MAX, &a->t) && skip(&p, ",p=") &&
           parse_num(&p, 16, &a->p) && *p == '$';
}

/*
 * Decode standard base64 (with padding, as Mosquitto writes it) from s up to
 * the next '$' or the end. out: bin[0..*n), at most cap bytes. *p advances
 * past the field. false if it is empty, not base64, or longer than cap.
 */
static bool b64_field(const char **p, unsigned char *bin, size_t cap, size_t *n)
{
    const char *s = *p;
    const char *end = strchr(s, '$');
    size_t slen = end ? (size_t)(end - s) : strlen(s);
    const char *stop = NULL;
    if (slen == 0 ||
        sodium_base642bin(bin, cap, s, slen, NULL, n, &stop, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        stop != s + slen || *n == 0)
        return false;
    *p = s + slen;
    return true;
}

/* A Mosquitto hash, decoded. iter is 0 for "$6$". */
struct mosq_hash {
    unsigned long long iter;      /* "$7$" PBKDF2 iterations, 1..PW_PBKDF2_ITER_MAX */
    unsigned char salt[SALT_MAX]; /* decoded salt */
    size_t slen;                  /* 1..SALT_MAX */
    unsigned char want[SHA512_LEN]; /* decoded digest or key */
};

/*
 * Parse "$6$SALT$HASH" or "$7$ITER$SALT$HASH" (the caller has checked the
 * prefix). false on any deviation: empty or bad base64, a digest that is not
 * 64 bytes, iterations 0 or past the limit, trailing characters.
 */
static bool parse_mosq(const char *stored, struct mosq_hash *h)
{
    const char *p = stored + 3; /* after "$6$" or "$7$" */
    size_t wlen;
    h->iter = 0;
    if (stored[1] == '7' &&
        (!parse_num(&p, PW_PBKDF2_ITER_MAX, &h->iter) || h->iter == 0 || *p++ != '$'))
        return false;
    return b64_field(&p, h->salt, sizeof h->salt, &h->slen) && *p++ == '$' &&
           b64_field(&p, h->want, sizeof h->want, &wlen) && *p == '\0' && wlen == SHA512_LEN;
}

/*
 * "$6$": SHA-512(pw || salt); "$7$": PBKDF2-HMAC-SHA512(pw, salt, iter, 64).
 * out: got. false if wolfCrypt fails or pw is longer than its length types.
 */
static bool mosq_digest(const struct mosq_hash *h, const char *pw, size_t len,
                        unsigned char got[SHA512_LEN])
{
    if (len > INT_MAX)
        return false; /* wolfCrypt takes int/word32 lengths; no real password is this long */
    if (h->iter) {
        /* An empty password still needs a valid pointer for HMAC's key. */
        return wc_PBKDF2(got, (const byte *)(len ? pw : ""), (int)len, h->salt, (int)h->slen,
                         (int)h->iter, SHA512_LEN, WC_SHA512) == 0;
    }
    wc_Sha512 sha;
    bool ok = wc_InitSha512(&sha) == 0;
    if (ok) {
        ok = wc_Sha512Update(&sha, (const byte *)pw, (word32)len) == 0 &&
             wc_Sha512Update(&sha, h->salt, (word32)h->slen) == 0 &&
             wc_Sha512Final(&sha, got) == 0;
        wc_Sha512Free(&sha);
    }
    sodium_memzero(&sha, sizeof sha);
    return ok;
}

/* Mosquitto "$6$" or "$7$" line: constant-time compare of the recomputed digest. */
static enum pw_verdict verify_mosq(const char *stored, const char *pw, size_t len)
{
    struct mosq_hash h;
    unsigned char got[SHA512_LEN];
    if (!parse_mosq(stored, &h))
        return PW_UNSUPPORTED;
    enum pw_verdict v = PW_MISMATCH;
    if (mosq_digest(&h, pw, len, got) && sodium_memcmp(got, h.want, SHA512_LEN) == 0)
        v = PW_MATCH;
    sodium_memzero(got, sizeof got);
    return v;
}

/*
 * After the parameters of an Argon2id string: "SALT$HASH", both unpadded
 * base64 (libsodium's encoding), nothing else.
 */
static bool argon2_tail_ok(const char *s)
{
    const char *p = strchr(s + strlen(ARGON2ID_PREFIX), '$'); /* before m= */
    p = p ? strchr(p + 1, '$') : NULL;                        /* before SALT */
    if (!p)
        return false;
    size_t fields = 1, run = 0;
    for (p++; *p; p++) {
        if (*p == '$') {
            if (run == 0)
                return false;
            fields++;
            run = 0;
        } else if (isalnum((unsigned char)*p) || *p == '+' || *p == '/') {
            run++;
        } else {
            return false;
        }
    }
    return fields == 2 && run > 0;
}

bool pw_well_formed(const char *stored)
{
    struct mosq_hash h;
    struct argon2_params a;
    if (!stored)
        return false;
    if (strncmp(stored, "$6$", 3) == 0 || strncmp(stored, "$7$", 3) == 0)
        return parse_mosq(stored, &h);
    return parse_argon2id(stored, &a) && a.v == ARGON2_VERSION && argon2_tail_ok(stored);
}

enum pw_verdict pw_verify(const char *stored, const char *pw, size_t len)
{
    if (!stored || (!pw && len))
        return PW_UNSUPPORTED;
    pw_init();
    if (!pw)
        pw = "";
    if (strncmp(stored, "$6$", 3) == 0 || strncmp(stored, "$7$", 3) == 0)
        return verify_mosq(stored, pw, len);
    if (strncmp(stored, ARGON2ID_PREFIX, strlen(ARGON2ID_PREFIX)) == 0) {
        if (!pw_well_formed(stored))
            return PW_UNSUPPORTED;
        if (len > crypto_pwhash_argon2id_PASSWD_MAX)
            return PW_MISMATCH;
        return crypto_pwhash_str_verify(stored, pw, len) == 0 ? PW_MATCH : PW_MISMATCH;
    }
    return PW_UNSUPPORTED;
}

bool pw_needs_rehash(const char *stored, unsigned long long opslimit, size_t memlimit)
{
    struct argon2_params a;
    if (!stored)
        return true;
    if (strncmp(stored, ARGON2ID_PREFIX, strlen(ARGON2ID_PREFIX)) != 0 ||
        !pw_well_formed(stored) || !parse_argon2id(stored, &a))
        return true;
    return a.t < opslimit || a.m < memlimit / 1024;
}

enum wd_err pw_generate(char *out, size_t len)
{
    static const char alphabet[64] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    if (!out || len < 2)
        return WD_EINVAL;
    pw_init();
    randombytes_buf(out, len - 1);
    for (size_t i = 0; i + 1 < len; i++)
        out[i] = alphabet[(unsigned char)out[i] & 63]; /* 256 % 64 == 0: uniform */
    out[len - 1] = '\0';
    return WD_OK;
}

double pw_measure_ms(unsigned long long opslimit, size_t memlimit)
{
    static const char probe[] = "warden-measure-not-a-secret";
    char hash[PW_HASH_MAX];
    if (pw_hash(probe, sizeof probe - 1, opslimit, memlimit, hash) != WD_OK)
        return -1.0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    enum pw_verdict v = pw_verify(hash, probe, sizeof probe - 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (v != PW_MATCH)
        return -1.0;
    return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}
