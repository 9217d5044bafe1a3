/* Login throttling in Redis (README: Login throttling).
 *
 * Per client address: every attempt counts until it succeeds; from the
 * addr_free-th attempt on, the address must wait 2^(n - addr_free) s (at most
 * addr_max_delay_s) before its next attempt is even looked at (429 with
 * Retry-After). The count is forgotten addr_memory_s after the address's last
 * attempt. A success takes back its own attempt only, so an attacker's own
 * good password does not wipe the count of its failures.
 *
 * Per account (the normalised e-mail, hashed): at most account_limit
 * attempts are evaluated in any sliding window of account_window_s; an
 * attempt reserves its slot before the password is checked (so concurrent
 * attempts cannot overshoot) and a success gives it back. Past the limit the
 * login is refused without evaluating, with the usual 401. The window slides,
 * so the owner is never locked out for good, and a burst from one address
 * reaches the address delays long before the account limit.
 *
 * Each check is one Lua script (atomic in Redis). Loop thread only. */
#ifndef ACCOUNTS_THROTTLE_H
#define ACCOUNTS_THROTTLE_H

#include <stdbool.h>

#include "citerne/cache.h"
#include "rules.h"

typedef struct {
    unsigned addr_free;        /* attempts before delays start (5) */
    unsigned addr_max_delay_s; /* longest delay (900) */
    unsigned addr_memory_s;    /* count forgotten after (3600) */
    unsigned account_limit;    /* attempts per window and account (100) */
    unsigned account_window_s; /* sliding window (3600) */
} accounts_throttle_opts_t;

typedef enum {
    ACCOUNTS_THROTTLE_GO = 0,       /* evaluate the password */
    ACCOUNTS_THROTTLE_ADDR_WAIT,    /* 429: the address must wait retry_after_s */
    ACCOUNTS_THROTTLE_ACCOUNT_FULL, /* 401 without evaluating */
} accounts_throttle_verdict_t;

/* status 0 with a verdict, or CT_EUNAVAIL when Redis cannot answer (the
 * caller fails closed: 503). */
typedef void (*accounts_throttle_cb)(int status, accounts_throttle_verdict_t verdict,
                                     unsigned retry_after_s, void *udata);

/* One attempt: the keys it touched, so that a success can give it back.
 * The caller embeds it and keeps it until its callback has run. */
typedef struct {
    char addr_count[96];
    char addr_block[96];
    char account[96];
    char member[33];
    accounts_throttle_cb cb;
    void *udata;
} accounts_throttle_t;

/* Records the attempt of addr on account (any text: hashed) and says
 * whether it may be evaluated. Returns 0 (cb called once, later) or
 * CT_EUNAVAIL (cb never called). */
int accounts_throttle_begin(ct_cache_t *cache, const accounts_throttle_opts_t *o,
                            accounts_throttle_t *t, const char *addr, const char *account,
                            accounts_throttle_cb cb, void *udata);
/* The attempt t succeeded: gives its slot back (fire and forget). */
void accounts_throttle_succeeded(ct_cache_t *cache, const accounts_throttle_opts_t *o,
                                 const accounts_throttle_t *t);

/* ---- quotas: at most limit uses of something per sliding window ---- */
/* Reset and activation e-mails per address and hour: past it, the same
 * answer and no mail (against mail bombing). */
#define ACCOUNTS_MAILS_PER_HOUR 5
typedef void (*accounts_quota_cb)(int status, bool allowed, void *udata);
/* One use taken (or refused): the key and member it wrote, so that it can
 * be given back; when refused, retry_after_s says when the oldest use in the
 * window leaves it. The caller embeds it and keeps it until cb has run. */
typedef struct {
    char key[96];
    char member[33];
    unsigned retry_after_s;
    accounts_quota_cb cb;
    void *udata;
} accounts_quota_t;
/* Takes one use of prefix + SHA-256(text) when fewer than limit were taken
 * in the last window_s: cb(0, true); otherwise cb(0, false), nothing is
 * taken and q->retry_after_s is set; cb(CT_EUNAVAIL, false) when Redis
 * cannot answer. Returns 0 or CT_EUNAVAIL (cb never called). */
int accounts_quota_take(ct_cache_t *cache, accounts_quota_t *q, const char *prefix,
                        const char *text, unsigned limit, unsigned window_s, accounts_quota_cb cb,
                        void *udata);
/* Gives back the use q took (fire and forget): after cb(0, true) only. */
void accounts_quota_give_back(ct_cache_t *cache, const accounts_quota_t *q);

/* ---- the invoice proof's failure budget (README: Proving a customer) ----
 * Per customer number, whoever asks and from wherever: at most
 * CITERNE_PROOF_INVOICE_FAILURES (10) proofs by invoice that did not prove
 * the customer in a sliding CITERNE_PROOF_INVOICE_WINDOW_S (24 h). A quota
 * under "acct:proof:invoice:" + SHA-256 of the number as typed: the attempt
 * takes its use before the invoice is looked at (concurrent guesses cannot
 * overshoot) and a proven attempt gives it back. */
#define ACCOUNTS_PROOF_INVOICE_PREFIX "acct:proof:invoice:"

#endif
