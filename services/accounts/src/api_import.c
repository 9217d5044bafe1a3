/* POST /api/v1/accounts/import (back office: operator key), a CRM export as
 * CSV: one row = a customer, its contract and its site. Every row is checked
 * with the rules of the one-at-a-time endpoints; bad rows are reported by
 * line number; the good rows are imported in one transaction, each with its
 * three events, so no row is ever half imported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/outbox.h"
#include "csv.h"
#include "events.h"
#include "rules.h"
#include "store.h"

#define MAX_ROWS 5000

enum {
    COL_NUMBER,
    COL_NAME,
    COL_SEGMENT,
    COL_VAT,
    COL_SIRET,
    COL_PHONE,
    COL_MODE,
    COL_PRICE,
    COL_PLAN,
    COL_CAPACITY,
    COL_THRESHOLD,
    COL_ADDRESS,
    COL_CERTIFICATE,
    NCOLS
};
static const char *const col_names[NCOLS] = {"customer_number",
                                             "name",
                                             "segment",
                                             "vat_rate_bp",
                                             "siret",
                                             "phone",
                                             "delivery_mode",
                                             "price_per_tonne_cents",
                                             "maintenance_plan",
                                             "capacity_kg",
                                             "threshold_pct",
                                             "address",
                                             "certificate_received"};
static const bool col_required[NCOLS] = {true, true,  true, false, false, false, true,
                                         true, false, true, false, true,  false};

typedef struct {
    size_t line;
    accounts_customer_t c;
    accounts_contract_t k;
    accounts_site_t s;
    json_t *errors; /* NULL while the row is good */
} import_row_t;

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    int col[NCOLS]; /* field index of each column, -1 when absent */
    bool have_header;
    json_t *header_errors;
    import_row_t *rows;
    size_t nrows, max_rows;
    size_t i; /* the row being written */
    int step; /* its statement */
    size_t imported;
    accounts_event_t event;
} import_ctx_t;

static void row_fail(import_row_t *row, const char *field, const char *message)
{
    if (!row->errors)
        row->errors = json_array();
    json_array_append_new(row->errors, json_pack("{s:I, s:s, s:s}", "line", (json_int_t)row->line,
                                                 "field", field, "message", message));
}

static bool parse_int(const char *s, long long min, long long max, long long *out)
{
    if (!s || !*s || strlen(s) > 12)
        return false;
    long long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

static const char *field(import_ctx_t *ctx, const accounts_csv_record_t *rec, int col)
{
    int idx = ctx->col[col];
    if (idx < 0 || (size_t)idx >= rec->nfields)
        return NULL;
    const char *v = rec->fields[idx];
    return *v ? ct_http_strdup(ctx->req, v) : NULL;
}

static void check_row(import_ctx_t *ctx, const accounts_csv_record_t *rec, import_row_t *row)
{
    accounts_customer_t *c = &row->c;
    accounts_contract_t *k = &row->k;
    accounts_site_t *s = &row->s;
    long long n = 0;
    for (int col = 0; col < NCOLS; col++)
        if (col_required[col] && !field(ctx, rec, col))
            row_fail(row, col_names[col], "required");

    c->customer_number = field(ctx, rec, COL_NUMBER);
    if (c->customer_number && !accounts_customer_number_valid(c->customer_number))
        row_fail(row, "customer_number", "expected C and 6 to 10 digits");
    for (size_t j = 0; c->customer_number && j + 1 < ctx->nrows; j++)
        if (ctx->rows[j].c.customer_number &&
            strcmp(ctx->rows[j].c.customer_number, c->customer_number) == 0)
            row_fail(row, "customer_number", "already on an earlier line");
    c->name = field(ctx, rec, COL_NAME);
    if (c->name && !accounts_text_ok(c->name, 1, 200))
        row_fail(row, "name", "expected 1 to 200 characters, not only spaces");
    c->segment = field(ctx, rec, COL_SEGMENT);
    bool business = c->segment && strcmp(c->segment, "business") == 0;
    if (c->segment && !business && strcmp(c->segment, "household") != 0)
        row_fail(row, "segment", "expected household or business");
    const char *vat = field(ctx, rec, COL_VAT);
    c->vat_rate_bp = 2000;
    if (vat && (!parse_int(vat, 0, 100000, &n) || !accounts_vat_rate_valid(n)))
        row_fail(row, "vat_rate_bp", "expected 550, 1000 or 2000");
    else if (vat)
        c->vat_rate_bp = (int)n;
    c->siret = field(ctx, rec, COL_SIRET);
    if (c->siret && !accounts_siret_valid(c->siret))
        row_fail(row, "siret", "expected 14 digits");
    if (c->segment && business && !c->siret)
        row_fail(row, "siret", "required for a business customer");
    if (c->segment && !business && c->siret)
        row_fail(row, "siret", "not allowed for a household customer");
    c->phone = field(ctx, rec, COL_PHONE);
    if (c->phone && !accounts_phone_valid(c->phone))
        row_fail(row, "phone", "expected E.164: + and 8 to 15 digits");

    k->delivery_mode = field(ctx, rec, COL_MODE);
    if (k->delivery_mode && strcmp(k->delivery_mode, "automatic") != 0 &&
        strcmp(k->delivery_mode, "on_demand") != 0)
        row_fail(row, "delivery_mode", "expected automatic or on_demand");
    const char *price = field(ctx, rec, COL_PRICE);
    if (price && !parse_int(price, 1, 10000000, &n))
        row_fail(row, "price_per_tonne_cents", "expected 1 to 10000000");
    else if (price)
        k->price_per_tonne_cents = n;
    k->maintenance_plan = field(ctx, rec, COL_PLAN);
    if (!k->maintenance_plan)
        k->maintenance_plan = "none";
    if (c->segment && !accounts_plan_allowed(c->segment, k->maintenance_plan))
        row_fail(row, "maintenance_plan", "not a plan this segment may take");

    const char *capacity = field(ctx, rec, COL_CAPACITY);
    if (capacity && !parse_int(capacity, 100, 100000, &n))
        row_fail(row, "capacity_kg", "expected 100 to 100000");
    else if (capacity)
        s->capacity_kg = (int)n;
    const char *threshold = field(ctx, rec, COL_THRESHOLD);
    s->threshold_pct = 30;
    if (threshold && !parse_int(threshold, 5, 80, &n))
        row_fail(row, "threshold_pct", "expected 5 to 80");
    else if (threshold)
        s->threshold_pct = (int)n;
    s->address = field(ctx, rec, COL_ADDRESS);
    if (s->address && !accounts_text_ok(s->address, 1, 300))
        row_fail(row, "address", "expected 1 to 300 characters, not only spaces");
    const char *cert = field(ctx, rec, COL_CERTIFICATE);
    static const char *const yes[] = {"true", "1", "yes", "oui", NULL};
    static const char *const no[] = {"false", "0", "no", "non", NULL};
    s->certificate_received = true;
    if (cert && accounts_in_list(cert, no))
        s->certificate_received = false;
    else if (cert && !accounts_in_list(cert, yes))
        row_fail(row, "certificate_received", "expected true or false");

    ct_uuid_v7(c->id);
    ct_uuid_v7(k->id);
    ct_uuid_v7(s->id);
    memcpy(k->customer_id, c->id, sizeof k->customer_id);
    memcpy(s->customer_id, c->id, sizeof s->customer_id);
    memcpy(s->contract_id, k->id, sizeof s->contract_id);
    snprintf(s->delivery_mode, sizeof s->delivery_mode, "%s",
             k->delivery_mode ? k->delivery_mode : "");
}

static int on_record(const accounts_csv_record_t *rec, void *udata)
{
    import_ctx_t *ctx = udata;
    if (!ctx->have_header) {
        ctx->have_header = true;
        for (int col = 0; col < NCOLS; col++) {
            ctx->col[col] = -1;
            for (size_t f = 0; f < rec->nfields; f++)
                if (strcmp(rec->fields[f], col_names[col]) == 0)
                    ctx->col[col] = (int)f;
            if (col_required[col] && ctx->col[col] < 0)
                json_array_append_new(ctx->header_errors,
                                      json_pack("{s:I, s:s, s:s}", "line", (json_int_t)rec->line,
                                                "field", col_names[col], "message",
                                                "missing column"));
        }
        return json_array_size(ctx->header_errors) > 0 ? 1 : 0;
    }
    if (ctx->nrows == ctx->max_rows)
        return 2;
    import_row_t *row = &ctx->rows[ctx->nrows++];
    row->line = rec->line;
    check_row(ctx, rec, row);
    return 0;
}

/* ---- writing the good rows ---- */

static void reply_report(import_ctx_t *ctx)
{
    json_t *errors = json_array();
    size_t bad = 0;
    for (size_t i = 0; i < ctx->nrows; i++) {
        if (ctx->rows[i].errors) {
            bad++;
            json_array_extend(errors, ctx->rows[i].errors);
            json_decref(ctx->rows[i].errors);
            ctx->rows[i].errors = NULL;
        }
    }
    ct_logc_info(ct_http_request_id(ctx->req), "import: %zu row(s) imported, %zu refused",
                 ctx->imported, bad);
    ct_http_reply_json(ctx->req, 200,
                       json_pack("{s:I, s:I, s:o}", "imported", (json_int_t)ctx->imported,
                                 "refused", (json_int_t)bad, "errors", errors));
}

static void free_rows(import_ctx_t *ctx)
{
    for (size_t i = 0; i < ctx->nrows; i++)
        json_decref(ctx->rows[i].errors);
    ctx->nrows = 0;
}

static void on_import_done(const ct_db_error_t *err, void *udata)
{
    import_ctx_t *ctx = udata;
    accounts_event_dispose(&ctx->event);
    if (err && err->status == CT_ECONFLICT) {
        free_rows(ctx);
        ct_http_reply_problem(ctx->req, 409, "conflict",
                              "A customer number was taken during the import",
                              "nothing was imported: send the file again");
        return;
    }
    if (err) {
        free_rows(ctx);
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    reply_report(ctx);
    free_rows(ctx);
}

static void next_step(ct_db_tx_t *tx, PGresult *res, void *udata);

/* Moves to the next good row; commits after the last. */
static void next_row(ct_db_tx_t *tx, import_ctx_t *ctx)
{
    while (ctx->i < ctx->nrows && ctx->rows[ctx->i].errors)
        ctx->i++;
    if (ctx->i == ctx->nrows) {
        ct_db_tx_commit(tx);
        return;
    }
    ctx->step = 0;
    accounts_store_customer_insert(tx, &ctx->rows[ctx->i].c, next_step);
}

static void append(ct_db_tx_t *tx, import_ctx_t *ctx, int rc)
{
    if (rc != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    ct_outbox_append(tx, ctx->a->svc->topic, ctx->rows[ctx->i].c.id, ctx->event.data,
                     ctx->event.len, ctx->event.event_id, next_step);
}

static void next_step(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    import_ctx_t *ctx = udata;
    import_row_t *row = &ctx->rows[ctx->i];
    accounts_event_dispose(&ctx->event);
    switch (ctx->step++) {
    case 0: /* customer inserted? */
        if (PQntuples(res) != 1) {
            ct_db_tx_rollback(tx, CT_ECONFLICT, "customer number taken meanwhile");
            return;
        }
        append(tx, ctx, accounts_event_customer_created(&row->c, &ctx->event));
        return;
    case 1:
        accounts_store_contract_insert(tx, &row->k, next_step);
        return;
    case 2:
        append(tx, ctx, accounts_event_contract_created(&row->k, &ctx->event));
        return;
    case 3:
        accounts_store_site_insert(tx, &row->s, next_step);
        return;
    case 4:
        append(tx, ctx, accounts_event_site_created(&row->s, &ctx->event));
        return;
    default:
        ctx->imported++;
        ctx->i++;
        next_row(tx, ctx);
        return;
    }
}

static void on_taken(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    import_ctx_t *ctx = udata;
    for (int r = 0; r < PQntuples(res); r++) {
        const char *number = ct_db_get(res, r, "customer_number");
        for (size_t i = 0; i < ctx->nrows; i++)
            if (ctx->rows[i].c.customer_number &&
                strcmp(ctx->rows[i].c.customer_number, number) == 0)
                row_fail(&ctx->rows[i], "customer_number", "already a customer");
    }
    ctx->i = 0;
    next_row(tx, ctx);
}

static void on_import_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    import_ctx_t *ctx = udata;
    size_t cap = ctx->nrows * 12 + 1, len = 0;
    char *numbers = ct_http_alloc(ctx->req, cap);
    for (size_t i = 0; i < ctx->nrows; i++) {
        const char *n = ctx->rows[i].c.customer_number;
        if (!n || !accounts_customer_number_valid(n))
            continue;
        len += (size_t)snprintf(numbers + len, cap - len, "%s%s", len ? "," : "", n);
    }
    accounts_store_customers_taken(tx, numbers, on_taken);
}

void accounts_api_import(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    if (!accounts_require_operator(a, req))
        return;
    size_t len = 0;
    const char *body = ct_http_body(req, &len);
    import_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    /* a record takes a line at least: no more rows than lines */
    size_t lines = 1;
    for (size_t i = 0; i < len && lines <= MAX_ROWS; i++)
        lines += body[i] == '\n';
    ctx->max_rows = lines < MAX_ROWS ? lines : MAX_ROWS;
    ctx->rows = ct_http_alloc(req, ctx->max_rows * sizeof *ctx->rows);
    ctx->header_errors = json_array();
    size_t err_line = 0;
    int rc = accounts_csv_parse(body, len, on_record, ctx, &err_line);
    if (rc == 1 || !ctx->have_header) {
        free_rows(ctx);
        if (!ctx->have_header)
            json_array_append_new(ctx->header_errors,
                                  json_pack("{s:i, s:s, s:s}", "line", 1, "field", "header",
                                            "message", "expected a header line of column names"));
        ct_http_reply_invalid(req, ctx->header_errors);
        return;
    }
    json_decref(ctx->header_errors);
    if (rc == 2) {
        free_rows(ctx);
        ct_http_reply_problem(req, 413, "too-many-rows", "Too many rows",
                              "send at most 5000 rows per file");
        return;
    }
    if (rc < 0) {
        free_rows(ctx);
        static const char *const why[] = {"",
                                          "a quote is never closed",
                                          "too many fields",
                                          "a character after a closing quote",
                                          "a NUL byte",
                                          "out of memory"};
        char detail[128];
        snprintf(detail, sizeof detail, "line %zu: %s", err_line, why[-rc]);
        json_t *errors = json_array();
        json_array_append_new(errors, json_pack("{s:I, s:s, s:s}", "line", (json_int_t)err_line,
                                                "field", "csv", "message", why[-rc]));
        ct_http_reply_invalid(req, errors);
        return;
    }
    rc = ct_db_tx_begin(a->svc->db, on_import_begun, on_import_done, ctx);
    if (rc != 0) {
        free_rows(ctx);
        accounts_reply_failure(req, rc);
    }
}
