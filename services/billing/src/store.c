/* All SQL of billing. */
#include "store.h"

#include <jansson.h>
#include <stdlib.h>

/* The versioned write of one read-model table: the row as it was (old),
 * the insert or the write over an older version (put), and what happened. */
#define PUT_SQL(table, key, cols, vals, sets)                                                      \
    "WITH old AS (SELECT version FROM " table " WHERE " key " = $1),"                              \
    " put AS (INSERT INTO " table " (" key ", " cols ", version) VALUES ($1, " vals ")"            \
    " ON CONFLICT (" key ") DO UPDATE SET " sets ", version = EXCLUDED.version"                    \
    " WHERE " table ".version < EXCLUDED.version RETURNING 1)"                                     \
    " SELECT (SELECT version FROM old) AS old_version, (SELECT count(*) FROM put) AS written"

void billing_store_put_customer(ct_db_tx_t *tx, const char *customer_id, const char *number,
                                const char *segment, int vat_rate_bp, const char *name, int version,
                                ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add(&p, number);
    ct_db_params_add(&p, segment);
    ct_db_params_add_int(&p, vat_rate_bp);
    ct_db_params_add(&p, name);
    ct_db_params_add_int(&p, version);
    ct_db_tx_query(tx,
                   PUT_SQL("customers", "customer_id",
                           "customer_number, segment, vat_rate_bp, name", "$2, $3, $4, $5, $6",
                           "customer_number = EXCLUDED.customer_number,"
                           " segment = EXCLUDED.segment, vat_rate_bp = EXCLUDED.vat_rate_bp,"
                           " name = EXCLUDED.name"),
                   &p, next);
    ct_db_params_dispose(&p);
}

void billing_store_put_contract(ct_db_tx_t *tx, const char *contract_id, const char *customer_id,
                                const char *delivery_mode, int64_t price_per_tonne_cents,
                                const char *maintenance_plan, int version, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, contract_id);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add(&p, delivery_mode);
    ct_db_params_add_int(&p, price_per_tonne_cents);
    ct_db_params_add(&p, maintenance_plan);
    ct_db_params_add_int(&p, version);
    ct_db_tx_query(tx,
                   PUT_SQL("contracts", "contract_id",
                           "customer_id, delivery_mode, price_per_tonne_cents, maintenance_plan",
                           "$2, $3, $4, $5, $6",
                           "customer_id = EXCLUDED.customer_id,"
                           " delivery_mode = EXCLUDED.delivery_mode,"
                           " price_per_tonne_cents = EXCLUDED.price_per_tonne_cents,"
                           " maintenance_plan = EXCLUDED.maintenance_plan"),
                   &p, next);
    ct_db_params_dispose(&p);
}

void billing_store_put_site(ct_db_tx_t *tx, const char *site_id, const char *contract_id,
                            const char *customer_id, int version, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, site_id);
    ct_db_params_add(&p, contract_id);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add_int(&p, version);
    ct_db_tx_query(
        tx,
        PUT_SQL("sites", "site_id", "contract_id, customer_id", "$2, $3, $4",
                "contract_id = EXCLUDED.contract_id, customer_id = EXCLUDED.customer_id"),
        &p, next);
    ct_db_params_dispose(&p);
}

void billing_store_delivery_context(ct_db_tx_t *tx, const char *order_id, const char *site_id,
                                    const char *customer_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, order_id);
    ct_db_params_add(&p, site_id);
    ct_db_params_add(&p, customer_id);
    ct_db_tx_query(
        tx,
        "SELECT (SELECT invoice_id::text FROM invoices WHERE order_id = $1) AS existing_invoice,"
        " s.site_id IS NOT NULL AS has_site, k.contract_id IS NOT NULL AS has_contract,"
        " c.customer_id IS NOT NULL AS has_customer, s.customer_id::text AS site_customer_id,"
        " c.customer_number, c.segment, k.price_per_tonne_cents, k.maintenance_plan"
        " FROM (SELECT 1) AS one"
        " LEFT JOIN sites s ON s.site_id = $2"
        " LEFT JOIN contracts k ON k.contract_id = s.contract_id"
        " LEFT JOIN customers c ON c.customer_id = $3",
        &p, next);
    ct_db_params_dispose(&p);
}

void billing_store_next_seq(ct_db_tx_t *tx, int year, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add_int(&p, year);
    ct_db_tx_query(tx,
                   "INSERT INTO invoice_counters (year, last) VALUES ($1, 1)"
                   " ON CONFLICT (year) DO UPDATE SET last = invoice_counters.last + 1"
                   " RETURNING last",
                   &p, next);
    ct_db_params_dispose(&p);
}

void billing_store_insert_invoice(ct_db_tx_t *tx, const billing_issue_t *is, ct_db_tx_cb next)
{
    json_t *lines = json_array();
    for (size_t i = 0; i < is->inv->nlines; i++) {
        const billing_line_t *l = &is->inv->lines[i];
        json_array_append_new(lines, json_pack("{s:I, s:s, s:I, s:I, s:I, s:I}", "position",
                                               (json_int_t)i + 1, "label", l->label, "quantity",
                                               (json_int_t)l->quantity, "unit_price_cents",
                                               (json_int_t)l->unit_price_cents, "amount_excl_cents",
                                               (json_int_t)l->amount_excl_cents, "vat_rate_bp",
                                               (json_int_t)l->vat_rate_bp));
    }
    char *lines_text = json_dumps(lines, JSON_COMPACT);
    json_decref(lines);

    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, is->invoice_id);
    ct_db_params_add(&p, is->number);
    ct_db_params_add_int(&p, is->year);
    ct_db_params_add_int(&p, is->seq);
    ct_db_params_add(&p, is->customer_id);
    ct_db_params_add(&p, is->customer_number);
    ct_db_params_add(&p, is->order_id);
    ct_db_params_add(&p, is->site_id);
    ct_db_params_add(&p, is->delivery_date);
    ct_db_params_add(&p, is->issue_date);
    ct_db_params_add_int(&p, is->inv->total_excl_cents);
    ct_db_params_add_int(&p, is->inv->total_vat_cents);
    ct_db_params_add_int(&p, is->inv->total_incl_cents);
    ct_db_params_add(&p, is->cause_event_id);
    ct_db_params_add(&p, lines_text ? lines_text : "[]");
    free(lines_text);
    ct_db_tx_query(
        tx,
        "WITH inv AS ("
        "  INSERT INTO invoices (invoice_id, number, year, seq, customer_id, customer_number,"
        "   order_id, site_id, delivery_date, issue_date, total_excl_cents, total_vat_cents,"
        "   total_incl_cents, cause_event_id)"
        "  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        "  RETURNING invoice_id)"
        " INSERT INTO invoice_lines (invoice_id, position, label, quantity, unit_price_cents,"
        "  amount_excl_cents, vat_rate_bp)"
        " SELECT inv.invoice_id, l.position, l.label, l.quantity, l.unit_price_cents,"
        "  l.amount_excl_cents, l.vat_rate_bp"
        " FROM inv, jsonb_to_recordset($15::jsonb) AS l(position integer, label text,"
        "  quantity bigint, unit_price_cents bigint, amount_excl_cents bigint,"
        "  vat_rate_bp integer)",
        &p, next);
    ct_db_params_dispose(&p);
}

/* One invoice as the API shows it, lines in order. */
#define INVOICE_DOC                                                                                \
    "json_build_object('id', i.invoice_id, 'number', i.number, 'customer_id', i.customer_id,"      \
    " 'customer_number', i.customer_number, 'order_id', i.order_id, 'site_id', i.site_id,"         \
    " 'issue_date', to_char(i.issue_date, 'YYYY-MM-DD'),"                                          \
    " 'lines', (SELECT coalesce(json_agg(json_build_object('label', l.label,"                      \
    "   'quantity', l.quantity, 'unit_price_cents', l.unit_price_cents,"                           \
    "   'amount_excl_cents', l.amount_excl_cents, 'vat_rate_bp', l.vat_rate_bp)"                   \
    "   ORDER BY l.position), '[]'::json) FROM invoice_lines l"                                    \
    "   WHERE l.invoice_id = i.invoice_id),"                                                       \
    " 'total_excl_cents', i.total_excl_cents, 'total_vat_cents', i.total_vat_cents,"               \
    " 'total_incl_cents', i.total_incl_cents)::text AS doc"

int billing_store_get_invoice(ct_db_t *db, const char *invoice_id, ct_db_result_cb cb, void *udata)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, invoice_id);
    int rc = ct_db_query(db,
                         "SELECT i.customer_id::text AS customer_id, " INVOICE_DOC
                         " FROM invoices i WHERE i.invoice_id = $1",
                         &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}

int billing_store_list_invoices(ct_db_t *db, const char *customer_id, const char *order_id,
                                ct_db_result_cb cb, void *udata)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add(&p, order_id);
    int rc =
        ct_db_query(db,
                    "SELECT i.customer_id::text AS customer_id, " INVOICE_DOC " FROM invoices i"
                    " WHERE ($1::uuid IS NULL OR i.customer_id = $1::uuid)"
                    " AND ($2::uuid IS NULL OR i.order_id = $2::uuid)"
                    " ORDER BY i.year, i.seq LIMIT 1000",
                    &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}
