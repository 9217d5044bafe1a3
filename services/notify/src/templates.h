/* The French texts of notifications, and the formats they use (amounts,
 * quantities, dates). Pure functions: values in, text out, no I/O. */
#ifndef NOTIFY_TEMPLATES_H
#define NOTIFY_TEMPLATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    NOTIFY_KIND_ORDER_PROPOSED = 0,
    NOTIFY_KIND_DELIVERY_SCHEDULED,
    NOTIFY_KIND_DELIVERY_CONFIRMED,
    NOTIFY_KIND_INVOICE_ISSUED,
    NOTIFY_KIND_ORDER_HELD, /* the chain, but no preference: always sent (README) */
    /* account messages: e-mail only, to the address the event names */
    NOTIFY_KIND_PASSWORD_RESET,         /* link */
    NOTIFY_KIND_ACTIVATION,             /* link */
    NOTIFY_KIND_PASSWORD_CHANGED,       /* sensitive activity */
    NOTIFY_KIND_TOTP_DISABLED,          /* sensitive activity */
    NOTIFY_KIND_NEW_DEVICE,             /* sensitive activity */
    NOTIFY_KIND_CUSTOMER_LINKED,        /* sensitive activity */
    NOTIFY_KIND_COLLABORATOR_ADDED,     /* sensitive activity: an existing account got access */
    NOTIFY_KIND_COLLABORATOR_INVITED,   /* link: someone without an account was invited */
    NOTIFY_KIND_COLLABORATOR_REMOVED,   /* sensitive activity */
    NOTIFY_KIND_EMAIL_CONFIRM,          /* link: to the address a user asked to sign in with */
    NOTIFY_KIND_EMAIL_CHANGE_REQUESTED, /* sensitive activity: to the current address */
    NOTIFY_KIND_EMAIL_CHANGED,          /* sensitive activity: to the former address */
    NOTIFY_KIND_INVITATION,             /* an account was invited: sign in to accept (no secret) */
    NOTIFY_KIND_CUSTOMER_LINKED_ADMIN,  /* sensitive activity: to each admin of a customer
                                           someone linked */
    NOTIFY_KIND_URGENT_DELIVERY,        /* sensitive activity: an express delivery ordered, to
                                           each admin of the customer and the orderer */
    NOTIFY_KIND_PHONE_VERIFICATION,     /* SMS only: the code proving a new number (a secret,
                                           in link, purged like a link) */
} notify_kind_t;

#define NOTIFY_KIND_COUNT (NOTIFY_KIND_PHONE_VERIFICATION + 1)

/* True for the kinds of the gas chain (order_proposed .. order_held): told
 * to every user of the customer, by e-mail and SMS, signed with the
 * customer number. The others are account messages: e-mail only. */
bool notify_kind_is_chain(notify_kind_t kind);
/* True for the kinds a user chooses channels for (order_proposed ..
 * invoice_issued, as accounts offers them); order_held goes by every
 * channel the user has, whatever the preferences, and the account kinds
 * always go by e-mail. */
bool notify_kind_has_preference(notify_kind_t kind);
/* True for the kinds whose text carries a single-use link (or code:
 * phone_verification). */
bool notify_kind_has_link(notify_kind_t kind);

typedef enum { NOTIFY_CHANNEL_EMAIL = 0, NOTIFY_CHANNEL_SMS } notify_channel_t;

/* Spacing of formatted numbers. E-mail: French typography (narrow no-break
 * space U+202F between thousands, no-break space U+00A0 before the unit).
 * SMS: plain spaces, so the text stays in the GSM 7-bit alphabet (160
 * characters per part instead of 70). */
typedef enum { NOTIFY_STYLE_TYPOGRAPHIC = 0, NOTIFY_STYLE_PLAIN } notify_style_t;

/* What a notification tells; only the fields of its kind are read. */
typedef struct {
    notify_kind_t kind;
    const char *user_name;       /* may be "" (greeting without a name) */
    const char *customer_number; /* may be "" */
    /* order_proposed */
    bool automatic;    /* delivery_mode == "automatic" */
    const char *speed; /* "standard", "express_8d", ... (urgent_delivery_ordered: express) */
    /* order_proposed, delivery_scheduled, urgent_delivery_ordered */
    int quantity_kg;
    /* delivery_scheduled, delivery_confirmed, urgent_delivery_ordered: YYYY-MM-DD */
    const char *delivery_date;
    /* delivery_confirmed */
    int delivered_kg;
    /* invoice_issued */
    const char *invoice_number;
    int64_t total_incl_cents;
    const char *issue_date; /* YYYY-MM-DD */
    /* account kinds */
    const char *link;        /* reset, activation, invitation, e-mail: the URL (a secret);
                                invitation_received: the portal's page (none);
                                phone_verification: the 6-digit code (a secret) */
    int64_t expires_at;      /* of the link, Unix ms */
    int64_t at;              /* when it happened, Unix ms (changed, disabled, signed in, linked) */
    bool via_reset;          /* password_changed: by a reset link, not while signed in */
    bool with_recovery_code; /* totp_disabled */
    const char *device;      /* new_device: "Firefox on Linux" */
    const char *address;     /* new_device: client address */
    const char *role;        /* customer_linked, collaborator_*: "admin", "orderer", "viewer" */
    const char *customer_name; /* customer_linked, collaborator_*: may be "" */
    bool by_self;              /* collaborator_removed: the user left on their own;
                                  urgent_delivery_ordered: the user told is the orderer */
    const char *new_email;     /* email_*: the address asked for, or now in use */
    const char *inviter_name;  /* invitation_received: the admin's name, may be "" */
    /* customer_linked_admin: who linked the customer (user_name is the admin told) */
    const char *linked_name;  /* may be "" */
    const char *linked_email; /* required */
    /* urgent_delivery_ordered: who ordered it, both "" when notify does not
     * know them; customer_name and customer_number as known */
    const char *orderer_name;
    const char *orderer_email;
} notify_facts_t;

#define NOTIFY_SUBJECT_MAX 400 /* room for a 200-byte customer name */
#define NOTIFY_BODY_MAX 4096

typedef struct {
    char subject[NOTIFY_SUBJECT_MAX]; /* "" for an SMS */
    char body[NOTIFY_BODY_MAX];       /* lines end with "\n" */
} notify_message_t;

/* Renders the notification of f for a channel into out (the gas chain by
 * e-mail or SMS, phone_verification by SMS only, the other account kinds by
 * e-mail only). Returns 0, or -1 when
 * a date does not parse or the text does not fit (out is then unusable). */
int notify_render(const notify_facts_t *f, notify_channel_t channel, notify_message_t *out);

/* "1 234,56 €" (style decides the spaces); negative amounts get a "-".
 * Returns the length written, or -1 when out is too small. */
int notify_format_amount(int64_t cents, notify_style_t style, char *out, size_t size);
/* "1 200 kg" */
int notify_format_kg(int64_t kg, notify_style_t style, char *out, size_t size);
/* "mardi 24 novembre 2026" (with_weekday) or "24 novembre 2026"; the first
 * of a month is "1er". Returns the length, or -1 for an invalid date or a
 * short buffer. */
int notify_format_date(const char *ymd, bool with_weekday, char *out, size_t size);

/* "mardi 24 novembre 2026 à 10 h 30", Europe/Paris time (the EU summer time
 * rule: last Sunday of March to last Sunday of October, 01:00 UTC), with
 * no-break spaces around the "h" in the typographic style. Returns the
 * length, or -1 for a time before 2000 or after 9999, or a short buffer. */
int notify_format_time(int64_t unix_ms, notify_style_t style, char *out, size_t size);

/* Event strings. Return 0 or -1. */
int notify_kind_parse(const char *s, notify_kind_t *out);
const char *notify_kind_name(notify_kind_t kind);
const char *notify_channel_name(notify_channel_t channel);
/* A date YYYY-MM-DD that exists (year 2000..9999). */
bool notify_date_valid(const char *ymd);

#endif
