/*
 * test_form.c - the console's form (tui/form.c): typing, moving between
 * fields, choices, UTF-8 backspace, submit and cancel (which wipes what was
 * typed, passwords included), and the limits. Keys are curses key codes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <curses.h>

#include "../../tui/form.h"

static void type(struct form *f, const char *s)
{
    for (; *s; s++)
        assert_int_equal(form_key(f, (unsigned char)*s), FORM_CHANGED);
}

static const char *const modes[] = {"typed", "generated", "none"};

static void fields_and_tab(void **state)
{
    (void)state;
    struct form f;
    memset(&f, 0, sizeof f);
    form_open(&f, "Add a user");
    assert_true(f.active);
    assert_int_equal(form_text(&f, "Name", "", false), 0);
    assert_int_equal(form_choice(&f, "Password", modes, 3, 0), 1);
    assert_int_equal(form_text(&f, "Type it", "", true), 2);
    type(&f, "bob");
    assert_string_equal(form_value(&f, 0), "bob");
    assert_int_equal(form_key(&f, '\t'), FORM_CHANGED);
    assert_int_equal(f.cur, 1);
    /* Letters do not type into a choice; Space, Right and Left change it. */
    assert_int_equal(form_key(&f, 'x'), FORM_NONE);
    assert_string_equal(form_value(&f, 1), "typed");
    assert_int_equal(form_key(&f, ' '), FORM_CHANGED);
    assert_string_equal(form_value(&f, 1), "generated");
    assert_int_equal(form_key(&f, KEY_RIGHT), FORM_CHANGED);
    assert_string_equal(form_value(&f, 1), "none");
    assert_int_equal(form_key(&f, KEY_RIGHT), FORM_CHANGED);
    assert_string_equal(form_value(&f, 1), "typed"); /* wraps */
    assert_int_equal(form_key(&f, KEY_LEFT), FORM_CHANGED);
    assert_string_equal(form_value(&f, 1), "none");
    form_key(&f, KEY_DOWN);
    type(&f, "s3cret pass");
    assert_string_equal(form_value(&f, 2), "s3cret pass");
    /* Tab wraps to the first field, Up / Shift-Tab go back. */
    form_key(&f, '\t');
    assert_int_equal(f.cur, 0);
    form_key(&f, KEY_UP);
    assert_int_equal(f.cur, 2);
    form_key(&f, KEY_BTAB);
    assert_int_equal(f.cur, 1);
    assert_int_equal(form_key(&f, '\r'), FORM_SUBMIT);
    assert_true(f.active); /* submitting leaves closing to the caller */
    assert_string_equal(form_value(&f, 7), "");
    form_close(&f);
    assert_false(f.active);
    assert_string_equal(f.f[2].text, "");
}

static void editing(void **state)
{
    (void)state;
    struct form f;
    memset(&f, 0, sizeof f);
    form_open(&f, "t");
    form_text(&f, "Filter", "a/", false);
    type(&f, "\xc3\xa9"); /* é: two bytes */
    assert_string_equal(form_value(&f, 0), "a/\xc3\xa9");
    assert_int_equal(form_key(&f, KEY_BACKSPACE), FORM_CHANGED);
    assert_string_equal(form_value(&f, 0), "a/"); /* the whole sequence */
    assert_int_equal(form_key(&f, 127), FORM_CHANGED);
    assert_int_equal(form_key(&f, 8), FORM_CHANGED);
    assert_int_equal(form_key(&f, KEY_BACKSPACE), FORM_NONE);
    type(&f, "xyz");
    assert_int_equal(form_key(&f, 21), FORM_CHANGED); /* ^U */
    assert_string_equal(form_value(&f, 0), "");
    /* Control bytes other than the keys above are ignored. */
    assert_int_equal(form_key(&f, 1), FORM_NONE);
    /* Full: the text stops at FORM_TEXT - 1 bytes. */
    for (int i = 0; i < FORM_TEXT + 10; i++)
        form_key(&f, 'a');
    assert_int_equal(strlen(form_value(&f, 0)), FORM_TEXT - 1);
}

static void cancel_wipes(void **state)
{
    (void)state;
    struct form f;
    memset(&f, 0, sizeof f);
    form_open(&f, "Password");
    form_text(&f, "Type it", "", true);
    type(&f, "hunter2hunter2");
    assert_int_equal(form_key(&f, 27), FORM_CANCEL);
    assert_false(f.active);
    assert_null(memmem(&f, sizeof f, "hunter2", 7));
    /* A closed form takes no keys. */
    assert_int_equal(form_key(&f, 'a'), FORM_NONE);
    /* Opening again starts empty. */
    form_open(&f, "again");
    assert_int_equal(f.n, 0);
    for (int i = 0; i < FORM_FIELDS; i++)
        assert_int_equal(form_text(&f, "x", "", false), i);
    assert_int_equal(form_text(&f, "x", "", false), -1);
    assert_int_equal(form_choice(&f, "c", modes, 3, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fields_and_tab),
        cmocka_unit_test(editing),
        cmocka_unit_test(cancel_wipes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
