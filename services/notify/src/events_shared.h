/* What events.c and account_events.c share: checks of consumed fields, and
 * the steps that queue notifications in the inbox transaction. Internal to
 * notify. */
#ifndef NOTIFY_EVENTS_SHARED_H
#define NOTIFY_EVENTS_SHARED_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "citerne/db.h"
#include "citerne/v1/accounts.pb-c.h"
#include "events.h"
#include "templates.h"

/* Sets *why and returns CT_EINPUT from the calling decoder when cond fails. */
#define NOTIFY_REQUIRE(cond, what)                                                                 \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            *why = (what);                                                                         \
            return CT_EINPUT;                                                                      \
        }                                                                                          \
    } while (0)

/* Valid UTF-8 without control characters. */
bool notify_field_text_ok(const char *s);
/* Copies s (minlen..maxlen bytes, notify_field_text_ok) into dst of size. */
bool notify_field_text(char *dst, size_t size, const char *s, size_t minlen, size_t maxlen);
/* A UUID, copied into dst (NOTIFY_UUID_BUF) unless dst is NULL. */
bool notify_field_uuid(const char *s, char *dst);
/* A time in Unix ms that notify_format_time takes: 2000-01-01 ..
 * 9999-12-30. */
bool notify_field_time_ok(int64_t ms);
/* s is one of the NULL-terminated choices. */
bool notify_field_one_of(const char *s, const char *const *choices);
/* "admin", "orderer", "viewer", NULL */
extern const char *const notify_roles[];

/* Appends a notification to rows; user_id NULL keys it on the address. */
void notify_rows_add(json_t *rows, const char *user_id, notify_channel_t channel,
                     const char *recipient, const notify_message_t *msg);
/* Inserts rows (consumed) for ev, then next(tx, result, ev); with no rows,
 * next(tx, NULL, ev) at once. */
void notify_rows_insert(ct_db_tx_t *tx, notify_event_t *ev, json_t *rows, ct_db_tx_cb next);
/* A read-model step done: outcome NOTIFY_OUT_STORED, commit. */
void notify_event_stored(ct_db_tx_t *tx, PGresult *res, void *udata);

/* account_events.c: decodes the accounts bodies other than CustomerCreated
 * and UserCreated (unknown ones: NOTIFY_EV_IGNORED); applies the kinds
 * NOTIFY_EV_ACCOUNT, _ROLE, _PROFILE and _CLOSED, ending the transaction. */
int notify_account_decode(notify_event_t *ev, const Citerne__V1__AccountsEvent *m,
                          const char **why);
void notify_account_apply(ct_db_tx_t *tx, notify_event_t *ev);

#endif
