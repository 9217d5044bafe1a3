/* All SQL of accounts. Transaction steps issue one statement in tx and hand
 * the result to next (see db.h); one-shot reads return 0 (cb called once) or
 * an error (cb never called). */
#ifndef ACCOUNTS_STORE_H
#define ACCOUNTS_STORE_H

#include "accounts.h"
#include "citerne/db.h"

/* INSERT the customer unless its number exists: one row (id) when inserted,
 * none when the number is taken. */
void accounts_store_customer_insert(ct_db_tx_t *tx, const accounts_customer_t *c, ct_db_tx_cb next);
/* Locks the customer against deletion for the rest of tx: one row
 * (segment) or none when unknown. */
void accounts_store_customer_lock(ct_db_tx_t *tx, const char *customer_id, ct_db_tx_cb next);
/* INSERT the contract. */
void accounts_store_contract_insert(ct_db_tx_t *tx, const accounts_contract_t *c, ct_db_tx_cb next);
/* Locks the contract: one row (customer_id, delivery_mode) or none. */
void accounts_store_contract_lock(ct_db_tx_t *tx, const char *contract_id, ct_db_tx_cb next);
/* INSERT the site. */
void accounts_store_site_insert(ct_db_tx_t *tx, const accounts_site_t *s, ct_db_tx_cb next);
/* INSERT the user (active, with its password hash) unless the e-mail is
 * taken: one row (id) when inserted, none when taken. */
void accounts_store_user_insert(ct_db_tx_t *tx, const accounts_user_t *u, ct_db_tx_cb next);
/* Grants the user its role on its customer. */
void accounts_store_user_grant(ct_db_tx_t *tx, const accounts_user_t *u, ct_db_tx_cb next);

/* The customer with its contracts, sites and users as one JSON document:
 * one row, column "doc", or no row. */
int accounts_store_customer_get(ct_db_t *db, const char *customer_id, ct_db_result_cb cb,
                                void *udata);
/* An active user by normalised e-mail, one row per grant (columns id,
 * password_hash, customer_id, role; customer_id and role NULL when the user
 * has no grant), grants oldest first; no row when unknown. */
int accounts_store_login_lookup(ct_db_t *db, const char *email, ct_db_result_cb cb, void *udata);
/* A user by id: one row (email, name, phone) or none. */
int accounts_store_user_get(ct_db_t *db, const char *user_id, ct_db_result_cb cb, void *udata);

#endif
