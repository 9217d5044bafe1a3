/* Fuzz target: arbitrary bytes as a JSON request body.
 *
 * The first byte picks the Content-Type (mostly application/json), the rest
 * is the body of a request that has no connection (ct__http_req_fake), so
 * ct_http_json_object and every validator run without any socket. Checked
 * beyond the sanitizers: a refused body is answered 400 or 415, and every
 * validator either returns a value or records an error. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "citerne/http.h"
#include "citerne/log.h"
#include "citerne/validate.h"
#include "http_internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ct_log_init("fuzz", CT_LOG_OFF);
    return 0;
}

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "%s\n", what);
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {"application/json",  "application/json; charset=utf-8",
                                        "APPLICATION/JSON",  "text/plain",
                                        "application/jsonx", NULL};
    const char *ct = "application/json";
    if (size > 0) {
        ct = types[data[0] % 6]; /* NULL: no Content-Type at all */
        data++;
        size--;
    }
    ct_http_req_t *req = ct__http_req_fake("POST", "/json?x=1", ct, data, size);
    json_t *o = ct_http_json_object(req);
    if (!o) {
        int st = ct__http_last_status();
        check(st == 400 || st == 415, "refused body not answered 400 or 415");
        return 0; /* replied and freed */
    }
    check(json_is_object(o), "ct_http_json_object returned a non-object");

    static const char *const kinds[] = {"tank", "bottle", NULL};
    ct_valid_t v;
    ct_valid_init(&v);
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val)
    {
        size_t before = json_array_size(v.errors);
        const char *s = ct_valid_str(&v, o, key, 0, 64, true);
        check(s || json_array_size(v.errors) == before + 1, "str: neither value nor error");
        (void)ct_valid_enum(&v, o, key, kinds, false, NULL);
        (void)ct_valid_int(&v, o, key, -1000, 1000, false, 0);
        (void)ct_valid_bool(&v, o, key, false, false);
        before = json_array_size(v.errors);
        const char *u = ct_valid_uuid(&v, o, key, true);
        check(u || json_array_size(v.errors) == before + 1, "uuid: neither value nor error");
        before = json_array_size(v.errors);
        const char *d = ct_valid_date(&v, o, key, true);
        check(d || json_array_size(v.errors) == before + 1, "date: neither value nor error");
        check(!d || strlen(d) == 10, "date accepted with a wrong length");
    }
    if (ct_valid_ok(&v))
        ct_http_reply_json(req, 200, json_incref(o));
    else
        ct_http_reply_invalid(req, ct_valid_take_errors(&v));
    ct_valid_dispose(&v);
    return 0;
}
