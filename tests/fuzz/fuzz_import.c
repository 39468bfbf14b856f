/*
 * fuzz_import.c - libFuzzer target for store/import.c.
 *
 * The first byte picks the parser (passwd, acl_file, dynsec JSON) and whether
 * IMPORT_SKIP_BAD is set; the rest is the file. Arbitrary bytes must never
 * crash or leak. On WD_OK the result must hold the documented invariants
 * (unique user names, well-formed hashes, valid filters, known role names);
 * on WD_EMALFORMED imp.err names the file. A second run makes one allocation
 * fail, which must give WD_ENOMEM or the first run's result, and leave nothing
 * allocated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../store/import.h"
#include "mem.h"
#include "pw.h"
#include "topic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef enum wd_err (*parse_fn)(struct import *, const char *, const char *, size_t, unsigned);

static void check_rule(const struct import_rule *r, bool in_role)
{
    if (!r->filter || topic_validate_filter(r->filter, strlen(r->filter)) != WD_OK ||
        r->actions == 0 || (r->actions & ~(unsigned)IMPORT_ALL) != 0)
        abort();
    if (in_role != (r->scope == IMPORT_SCOPE_ROLE) || (r->scope == IMPORT_SCOPE_USER) != !!r->user)
        abort();
}

static bool has_role(const struct import *imp, const char *name)
{
    for (size_t i = 0; i < imp->nroles; i++)
        if (strcmp(imp->roles[i].name, name) == 0)
            return true;
    return false;
}

static void check(const struct import *imp)
{
    for (size_t i = 0; i < imp->nusers; i++) {
        const struct import_user *u = &imp->users[i];
        if (!u->name || !*u->name || (u->hash && !pw_well_formed(u->hash)))
            abort();
        for (size_t k = i + 1; k < imp->nusers; k++)
            if (strcmp(u->name, imp->users[k].name) == 0)
                abort();
        for (size_t k = 0; k < u->nroles; k++)
            if (!has_role(imp, u->roles[k]))
                abort();
    }
    for (size_t i = 0; i < imp->nrules; i++) {
        check_rule(&imp->rules[i], false);
        /* Deny rules come first. */
        if (i > 0 && !imp->rules[i].allow && imp->rules[i - 1].allow)
            abort();
    }
    for (size_t i = 0; i < imp->nroles; i++)
        for (size_t k = 0; k < imp->roles[i].nrules; k++) {
            check_rule(&imp->roles[i].rules[k], true);
            if (k > 0 && imp->roles[i].rules[k].priority > imp->roles[i].rules[k - 1].priority)
                abort();
        }
    for (size_t i = 0; i < imp->nanon_roles; i++)
        if (!has_role(imp, imp->anon_roles[i]))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const parse_fn parsers[] = {import_passwd, import_acl, import_dynsec};
    if (size < 1)
        return 0;
    size_t base = mem_in_use();
    parse_fn parse = parsers[(data[0] & 0x7f) % 3];
    unsigned flags = data[0] & 0x80 ? IMPORT_SKIP_BAD : 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    struct import imp;
    import_init(&imp);
    enum wd_err rc = parse(&imp, "fuzz", text, len, flags);
    if (rc == WD_OK)
        check(&imp);
    else if (rc != WD_EMALFORMED || strncmp(imp.err, "fuzz", 4) != 0)
        abort();
    if ((flags & IMPORT_SKIP_BAD) && rc == WD_OK && imp.skipped && !imp.err[0])
        abort();
    import_fini(&imp);

    /* Fail one allocation, picked from the input's length. */
    struct import again;
    import_init(&again);
    mem_fail_after(1 + len % 16);
    enum wd_err rc2 = parse(&again, "fuzz", text, len, flags);
    mem_fail_after(0);
    if (rc2 != rc && rc2 != WD_ENOMEM)
        abort();
    import_fini(&again);
    if (mem_in_use() != base)
        abort();
    return 0;
}
