/* Field validation for JSON bodies. Each getter records its failures in
 * v->errors instead of stopping, so one reply lists every bad field.
 * An absent field and a JSON null are the same: "not given". */
#include "citerne/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/id.h"

static _Noreturn void oom(void)
{
    fputs("citerne validate: out of memory\n", stderr);
    abort();
}

static json_t *new_errors(void)
{
    json_t *a = json_array();
    if (!a)
        oom();
    return a;
}

void ct_valid_init(ct_valid_t *v)
{
    v->errors = new_errors();
}

void ct_valid_dispose(ct_valid_t *v)
{
    json_decref(v->errors);
    v->errors = NULL;
}

bool ct_valid_ok(const ct_valid_t *v)
{
    return json_array_size(v->errors) == 0;
}

json_t *ct_valid_take_errors(ct_valid_t *v)
{
    json_t *e = v->errors;
    v->errors = new_errors();
    return e;
}

/* field names come from code, but keep a non-UTF-8 one from losing the error */
static json_t *text(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (!j)
        j = json_string("(not UTF-8)");
    if (!j)
        oom();
    return j;
}

void ct_valid_fail(ct_valid_t *v, const char *field, const char *message)
{
    if (!v->errors)
        v->errors = new_errors();
    json_t *e = json_object();
    if (!e || json_object_set_new(e, "field", text(field)) != 0 ||
        json_object_set_new(e, "message", text(message)) != 0 ||
        json_array_append_new(v->errors, e) != 0)
        oom();
}

/* The field's value, or NULL when absent or null; a required one that is
 * missing is recorded. */
static json_t *get(ct_valid_t *v, json_t *obj, const char *field, bool required)
{
    json_t *j = json_is_object(obj) ? json_object_get(obj, field) : NULL;
    if (json_is_null(j))
        j = NULL;
    if (!j && required)
        ct_valid_fail(v, field, "is required");
    return j;
}

/* Length of a valid UTF-8 sequence at s (at most n bytes), 0 if invalid:
 * overlong forms, surrogates and code points above U+10FFFF are refused. */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2, min = 0x80, c &= 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, min = 0x800, c &= 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, min = 0x10000, c &= 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* NULL when s[0..n) is valid UTF-8 free of control characters (C0, DEL,
 * C1), else what is wrong. */
static const char *text_problem(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned cp;
        size_t k = utf8_seq(p + i, n - i, &cp);
        if (k == 0)
            return "must be valid UTF-8";
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            return "must not contain control characters";
        i += k;
    }
    return NULL;
}

const char *ct_valid_str(ct_valid_t *v, json_t *obj, const char *field, size_t minlen,
                         size_t maxlen, bool required)
{
    json_t *j = get(v, obj, field, required);
    if (!j)
        return NULL;
    if (!json_is_string(j)) {
        ct_valid_fail(v, field, "must be a string");
        return NULL;
    }
    const char *s = json_string_value(j);
    size_t n = json_string_length(j);
    char msg[96];
    const char *bad = text_problem(s, n);
    if (!bad && strlen(s) != n)
        bad = "must not contain control characters"; /* an embedded NUL */
    if (bad) {
        ct_valid_fail(v, field, bad);
        return NULL;
    }
    if (n < minlen || n > maxlen) {
        if (minlen == maxlen)
            snprintf(msg, sizeof msg, "must be %zu bytes long", minlen);
        else if (n < minlen && minlen == 1)
            snprintf(msg, sizeof msg, "must not be empty");
        else
            snprintf(msg, sizeof msg, "must be %zu to %zu bytes long", minlen, maxlen);
        ct_valid_fail(v, field, msg);
        return NULL;
    }
    return s;
}

const char *ct_valid_enum(ct_valid_t *v, json_t *obj, const char *field, const char *const *choices,
                          bool required, const char *def)
{
    json_t *j = get(v, obj, field, required);
    if (!j)
        return required ? NULL : def;
    const char *s = json_is_string(j) ? json_string_value(j) : NULL;
    for (size_t i = 0; s && choices && choices[i]; i++)
        if (strcmp(s, choices[i]) == 0)
            return choices[i];
    char msg[256];
    size_t off = (size_t)snprintf(msg, sizeof msg, "must be one of:");
    for (size_t i = 0; choices && choices[i] && off < sizeof msg; i++)
        off += (size_t)snprintf(msg + off, sizeof msg - off, "%s %s", i ? "," : "", choices[i]);
    ct_valid_fail(v, field, msg);
    return NULL;
}

int64_t ct_valid_int(ct_valid_t *v, json_t *obj, const char *field, int64_t min, int64_t max,
                     bool required, int64_t def)
{
    json_t *j = get(v, obj, field, required);
    if (!j)
        return def;
    if (!json_is_integer(j)) {
        ct_valid_fail(v, field, "must be an integer");
        return def;
    }
    json_int_t n = json_integer_value(j);
    if (n < min || n > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "must be between %lld and %lld", (long long)min, (long long)max);
        ct_valid_fail(v, field, msg);
        return def;
    }
    return (int64_t)n;
}

bool ct_valid_bool(ct_valid_t *v, json_t *obj, const char *field, bool required, bool def)
{
    json_t *j = get(v, obj, field, required);
    if (!j)
        return def;
    if (!json_is_boolean(j)) {
        ct_valid_fail(v, field, "must be true or false");
        return def;
    }
    return json_is_true(j);
}

const char *ct_valid_uuid(ct_valid_t *v, json_t *obj, const char *field, bool required)
{
    json_t *j = get(v, obj, field, required);
    if (!j)
        return NULL;
    const char *s = json_is_string(j) ? json_string_value(j) : NULL;
    if (!s || strlen(s) != json_string_length(j) || !ct_uuid_valid(s)) {
        ct_valid_fail(v, field, "must be a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
        return NULL;
    }
    return s;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool date_exists(const char *s)
{
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (s[i] != '-')
                return false;
        } else if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    if (s[10] != '\0')
        return false;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return false;
    return d <= days[m - 1] + (m == 2 && is_leap(y));
}

const char *ct_valid_date(ct_valid_t *v, json_t *obj, const char *field, bool required)
{
    json_t *j = get(v, obj, field, required);
    if (!j)
        return NULL;
    const char *s = json_is_string(j) ? json_string_value(j) : NULL;
    if (!s || json_string_length(j) != 10 || !date_exists(s)) {
        ct_valid_fail(v, field, "must be a date that exists, as YYYY-MM-DD");
        return NULL;
    }
    return s;
}
