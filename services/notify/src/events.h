/* Consumed events: protobuf -> domain values (validated), and the inbox
 * apply step that keeps the read model and queues notifications. */
#ifndef NOTIFY_EVENTS_H
#define NOTIFY_EVENTS_H

#include <stdint.h>

#include "citerne/db.h"
#include "citerne/id.h"
#include "templates.h"

/* An event for a customer not yet known is retried for
 * CT_CONSUME_ORPHAN_WINDOW_MS (citerne/consume.h), then logged, counted and
 * skipped. */

typedef enum {
    NOTIFY_EV_IGNORED = 0, /* a body kind notify does not use */
    NOTIFY_EV_CUSTOMER,
    NOTIFY_EV_USER,
    NOTIFY_EV_NOTIFIABLE, /* order proposed/held, delivery scheduled/confirmed, invoice issued */
    NOTIFY_EV_ACCOUNT,    /* an e-mail to one person (nkind), maybe a grant given or ended */
    NOTIFY_EV_ROLE,       /* CollaboratorRoleChanged: the read model's role */
    NOTIFY_EV_PROFILE,    /* UserProfileUpdated: contact details and preferences */
    NOTIFY_EV_CLOSED,     /* UserClosed: forget the user */
} notify_ev_kind_t;

typedef enum {
    NOTIFY_OUT_NONE = 0,
    NOTIFY_OUT_STORED,         /* read model row written (or already there) */
    NOTIFY_OUT_STALE,          /* the customer holds that version or a newer one: no effect */
    NOTIFY_OUT_QUEUED,         /* notifications inserted (count in ev->created) */
    NOTIFY_OUT_ORPHAN_RETRY,   /* customer unknown: rolled back, CT_EUNAVAIL */
    NOTIFY_OUT_ORPHAN_SKIPPED, /* still unknown after the retry window: skipped */
} notify_outcome_t;

#define NOTIFY_UUID_BUF (CT_UUID_STRLEN + 1)

/* One consumed event; strings are copies, so the protobuf message is freed
 * after decode. */
typedef struct {
    const char *topic; /* consumed topic, borrowed (logs and metrics) */
    void *app;         /* the notify_app_t, or NULL (tests) */
    notify_ev_kind_t kind;
    char event_id[NOTIFY_UUID_BUF];
    char correlation_id[NOTIFY_UUID_BUF];
    int64_t occurred_at;
    char customer_id[NOTIFY_UUID_BUF];
    /* customer */
    int version; /* accounts' version of the customer: 1 for CustomerCreated */
    char customer_number[33];
    char name[201]; /* customer or user name */
    /* user */
    char user_id[NOTIFY_UUID_BUF];
    char email[255];
    char phone[17];
    char role[16];
    /* notifiable */
    notify_kind_t nkind;
    bool automatic;
    char speed[16];
    int quantity_kg;
    char delivery_date[11];
    int delivered_kg;
    char invoice_number[33];
    int64_t total_incl_cents;
    char issue_date[11];
    /* account */
    char link[1025];     /* reset, activation, invitation or e-mail confirmation URL: a secret,
                            never logged */
    char new_email[255]; /* EmailChangeRequested, EmailChanged: the address asked for */
    int64_t link_expires_at;
    int64_t at; /* changed_at, disabled_at, signed_in_at, linked_at, closed_at, held_at */
    bool via_reset;
    bool with_recovery_code;
    bool by_self; /* CollaboratorRemoved by the user themselves */
    bool grant;   /* CustomerLinked, CollaboratorAdded of an account: (user, customer) row */
    bool revoke;  /* CollaboratorRemoved: the row goes */
    char device[201];
    char inviter_name[201]; /* CollaboratorInvited: the admin's name */
    char address[64];
    char preferences[2048]; /* UserProfileUpdated: JSON object kind -> channel */
    /* outcome */
    notify_outcome_t outcome;
    long created; /* notifications inserted */
} notify_event_t;

/* Clears the secrets ev holds (the link) before it is freed. */
void notify_event_wipe(notify_event_t *ev);

/* Decodes a record of topic (citerne.accounts.v1, citerne.orders.v1 or
 * citerne.billing.v1) into ev (topic and app are kept). CustomerUpdated
 * decodes as NOTIFY_EV_CUSTOMER with its version (2 or more). Returns 0
 * (ev->kind says what), CT_EDECODE when it does not decode or its meta is invalid,
 * CT_EINPUT for a field out of range (*why names it, a static string). */
int notify_event_decode(notify_event_t *ev, const char *topic, const void *data, size_t len,
                        const char **why);

/* The inbox apply step (ct_inbox_apply_cb), udata the notify_event_t. Ends
 * the transaction; sets ev->outcome and ev->created. A customer event writes
 * its row only when the row is absent or holds an older version (an update
 * of an unknown customer adds it, logged at warn). */
void notify_event_apply(ct_db_tx_t *tx, void *udata);

#endif
