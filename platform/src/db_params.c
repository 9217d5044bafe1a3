/* Query parameters (copied in, freed by dispose) and the helpers that read
 * results. See citerne/db.h. */
#define _GNU_SOURCE /* vasprintf */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>

#include "db_private.h"

/* ---- parameters ---- */

void ct_db_params_init(ct_db_params_t *p)
{
    memset(p, 0, sizeof *p);
}

void ct_db_params_dispose(ct_db_params_t *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->values[i]);
    memset(p, 0, sizeof *p);
}

static int params_slot(ct_db_params_t *p)
{
    if (p->n >= CT_DB_MAX_PARAMS) {
        fprintf(stderr, "ct_db_params: more than %d parameters\n", CT_DB_MAX_PARAMS);
        abort();
    }
    return p->n++;
}

void ct_db_params_add(ct_db_params_t *p, const char *value)
{
    int i = params_slot(p);
    p->values[i] = value ? xstrdup(value) : NULL;
    p->lengths[i] = 0;
    p->formats[i] = 0;
}

void ct_db_params_addf(ct_db_params_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    int i = params_slot(p);
    p->values[i] = s;
    p->lengths[i] = 0;
    p->formats[i] = 0;
}

void ct_db_params_add_int(ct_db_params_t *p, long long value)
{
    ct_db_params_addf(p, "%lld", value);
}

void ct_db_params_add_bin(ct_db_params_t *p, const void *data, size_t len)
{
    assert(len <= INT32_MAX);
    int i = params_slot(p);
    p->values[i] = memcpy(xmalloc(len), data ? data : "", len);
    p->lengths[i] = (int)len;
    p->formats[i] = 1;
}

void ct__db_params_copy(ct_db_params_t *dst, const ct_db_params_t *src)
{
    ct_db_params_init(dst);
    if (!src)
        return;
    for (int i = 0; i < src->n; i++) {
        if (!src->values[i])
            dst->values[i] = NULL;
        else if (src->formats[i])
            dst->values[i] =
                memcpy(xmalloc((size_t)src->lengths[i]), src->values[i], (size_t)src->lengths[i]);
        else
            dst->values[i] = xstrdup(src->values[i]);
        dst->lengths[i] = src->lengths[i];
        dst->formats[i] = src->formats[i];
    }
    dst->n = src->n;
}

/* ---- result helpers ---- */

const char *ct_db_get(const PGresult *res, int row, const char *column)
{
    if (!res || !column)
        return NULL;
    int col = PQfnumber(res, column);
    if (col < 0 || row < 0 || row >= PQntuples(res) || PQgetisnull(res, row, col))
        return NULL;
    return PQgetvalue(res, row, col);
}

long long ct_db_get_int(const PGresult *res, int row, const char *column, long long def)
{
    const char *v = ct_db_get(res, row, column);
    if (!v || !*v)
        return def;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end)
        return def;
    return n;
}

long ct_db_affected(const PGresult *res)
{
    if (!res)
        return 0;
    const char *s = PQcmdTuples((PGresult *)res);
    return s && *s ? strtol(s, NULL, 10) : 0;
}
