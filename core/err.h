/*
 * err.h - the one error enum of Warden.
 *
 * WD_ERRORS is the single list of error names and messages; the enum and
 * wd_strerror() are both generated from it so that they cannot drift apart.
 * WD_OK is 0. WD_EAGAIN means "need more bytes" or "would block" and is not
 * a failure; every other value is a real error.
 */
#ifndef WD_ERR_H
#define WD_ERR_H

#define WD_ERRORS(X)                                                        \
    X(WD_OK, "success")                                                     \
    X(WD_EAGAIN, "need more data or would block")                           \
    X(WD_EMALFORMED, "malformed packet")                                    \
    X(WD_EPROTOCOL, "protocol error")                                       \
    X(WD_EVERSION, "unsupported protocol version")                          \
    X(WD_ETOOLARGE, "too large")                                            \
    X(WD_ENOMEM, "out of memory")                                           \
    X(WD_EINVAL, "invalid argument")                                        \
    X(WD_ETOPIC, "invalid topic name or filter")                            \
    X(WD_EPAYLOAD, "payload is not valid UTF-8")                            \
    X(WD_ENOTFOUND, "not found")                                            \
    X(WD_EEXIST, "already exists")                                          \
    X(WD_ELIMIT, "limit reached")                                           \
    X(WD_EDENIED, "not authorized")                                         \
    X(WD_EBADAUTH, "bad user name or password")                             \
    X(WD_EIO, "input/output error")                                         \
    X(WD_ECONFIG, "configuration error")                                    \
    X(WD_ECLOSED, "connection closed")                                      \
    X(WD_ETIMEOUT, "timed out")                                             \
    X(WD_EBUSY, "server busy")

enum wd_err {
#define WD_ERR_ENUM(name, msg) name,
    WD_ERRORS(WD_ERR_ENUM)
#undef WD_ERR_ENUM
    WD_ERR_COUNT
};

/* Human-readable message for an error code. Returns a static string. Thread: any. */
const char *wd_strerror(enum wd_err e);

/* The enum constant's name ("WD_EMALFORMED"), for logs and tests. Thread: any. */
const char *wd_errname(enum wd_err e);

#endif
