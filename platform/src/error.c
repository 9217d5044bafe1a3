/* Error table: project codes from CT_ERRNO_MAP, system codes (-errno and
 * libuv's UV_E*) from libuv's own table, so nothing here allocates (libuv's
 * uv_strerror() leaks a string for codes it does not know). */
#define _GNU_SOURCE
#include "citerne/error.h"

#include <string.h>
#include <uv.h>

typedef struct {
    int code;
    const char *name;
    int status;
    const char *type;
    const char *msg;
} ct_err_entry_t;

static const ct_err_entry_t ct_errors[] = {
#define XX(name, code, status, type, msg) {(code), #name, (status), (type), (msg)},
    CT_ERRNO_MAP(XX)
#undef XX
};

static const ct_err_entry_t *find(int err)
{
    for (size_t i = 0; i < sizeof ct_errors / sizeof ct_errors[0]; i++)
        if (ct_errors[i].code == err)
            return &ct_errors[i];
    return NULL;
}

/* libuv's codes: on Unix UV_E* equal -errno, plus UV_EAI_* and a few own. */
static const char *uv_msg(int err)
{
    switch (err) {
#define XX(code, msg)                                                                              \
    case UV_##code:                                                                                \
        return msg;
        UV_ERRNO_MAP(XX)
#undef XX
    default:
        return NULL;
    }
}

static const char *uv_name(int err)
{
    switch (err) {
#define XX(code, msg)                                                                              \
    case UV_##code:                                                                                \
        return #code;
        UV_ERRNO_MAP(XX)
#undef XX
    default:
        return NULL;
    }
}

const char *ct_strerror(int err)
{
    if (err == 0)
        return "success";
    const ct_err_entry_t *e = find(err);
    if (e)
        return e->msg;
    const char *m = uv_msg(err);
    if (m)
        return m;
    if (err < 0 && err > -4096) {
        m = strerrordesc_np(-err);
        if (m)
            return m;
    }
    return "unknown error";
}

const char *ct_err_name(int err)
{
    if (err == 0)
        return "OK";
    const ct_err_entry_t *e = find(err);
    if (e)
        return e->name;
    const char *n = uv_name(err);
    if (n)
        return n;
    if (err < 0 && err > -4096) {
        n = strerrorname_np(-err);
        if (n)
            return n;
    }
    return "EUNKNOWN";
}

int ct_err_http_status(int err)
{
    const ct_err_entry_t *e = find(err);
    return e ? e->status : 500;
}

const char *ct_err_problem_type(int err)
{
    const ct_err_entry_t *e = find(err);
    return e ? e->type : "internal";
}
