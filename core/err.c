/* err.c - messages for enum wd_err, generated from the WD_ERRORS list. */
#include "err.h"

static const char *const messages[] = {
#define WD_ERR_MSG(name, msg) msg,
    WD_ERRORS(WD_ERR_MSG)
#undef WD_ERR_MSG
};

static const char *const names[] = {
#define WD_ERR_NAME(name, msg) #name,
    WD_ERRORS(WD_ERR_NAME)
#undef WD_ERR_NAME
};

const char *wd_strerror(enum wd_err e)
{
    if ((unsigned)e >= WD_ERR_COUNT)
        return "unknown error";
    return messages[e];
}

const char *wd_errname(enum wd_err e)
{
    if ((unsigned)e >= WD_ERR_COUNT)
        return "WD_E?";
    return names[e];
}
