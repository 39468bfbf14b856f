/*
 * fuzz_config.c - libFuzzer target for config_parse().
 *
 * Arbitrary bytes must never crash, leak or report a malformed error. Each
 * input is parsed twice: once normally, checking the result's invariants, and
 * once with an allocation (picked by the first byte) made to fail, which must
 * give WD_ENOMEM or the first run's result and leave nothing allocated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_report(void *ctx, const char *file, int line, const char *msg)
{
    int *n = ctx;
    if (!file || strcmp(file, "fuzz.conf") != 0 || line < 1 || !msg || !*msg)
        abort();
    (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t base = mem_in_use();
    struct config c;
    int nerr = 0;
    config_defaults(&c);
    enum wd_err e = config_parse(&c, "fuzz.conf", (const char *)data, size, check_report, &nerr);
    if ((e == WD_OK) != (nerr == 0) || (e != WD_OK && e != WD_ECONFIG))
        abort();
    for (size_t i = 0; i < c.nlisteners; i++)
        if (!c.listeners[i].address)
            abort();
    if (e == WD_OK && c.nlisteners == 0)
        abort();
    config_fini(&c);

    int nerr2 = 0;
    config_defaults(&c);
    mem_fail_after(size ? 1u + data[0] % 16u : 1u);
    enum wd_err e2 = config_parse(&c, "fuzz.conf", (const char *)data, size, check_report, &nerr2);
    mem_fail_after(0);
    if (e2 != WD_ENOMEM && e2 != e)
        abort();
    config_fini(&c);
    if (mem_in_use() != base)
        abort();
    return 0;
}
