/* The sender: picks due notifications from the database and sends them,
 * e-mail over SMTP and SMS over the provider's HTTP API, with libcurl's
 * multi interface driven by the loop (curl_multi_socket_action, sockets
 * watched with uv_poll, curl's timer on a uv_timer). Nothing blocks.
 *
 * A notification is claimed with a lease (next_attempt_at moved ahead), so
 * replicas never send the same row at once and a crashed sender's rows come
 * back when the lease ends. Delivery is at least once: a crash between the
 * provider's acceptance and the database update sends again.
 *
 * On success the row is marked sent and NotificationSent is appended to the
 * outbox in the same transaction. On failure: attempts + 1 and a retry after
 * retry_base_ms x 2^(attempts - 1) (at most an hour), or failed at
 * max_attempts, or at once for a permanent refusal (SMTP 5xx, HTTP 4xx other
 * than 408/429). */
#ifndef NOTIFY_SENDER_H
#define NOTIFY_SENDER_H

#include <stddef.h>
#include <uv.h>

#include "citerne/db.h"

typedef struct notify_sender notify_sender_t;

typedef struct {
    const char *smtp_url;   /* smtp://host:port; NULL or "" leaves e-mails pending */
    const char *smtp_from;  /* "Citerne <no-reply@citerne.invalid>" */
    const char *sms_url;    /* http://host:port/sms; NULL or "" leaves SMS pending */
    const char *sms_token;  /* bearer token of the SMS provider (never logged) */
    const char *topic;      /* notify's topic, for NotificationSent */
    int max_inflight;       /* sends at once, default 8 */
    unsigned poll_ms;       /* periodic look for due rows, default 5000 */
    unsigned retry_base_ms; /* first retry delay, default 30000 */
    int max_attempts;       /* failed after this many attempts, default 10 */
    long timeout_ms;        /* one transfer, default 30000 */
} notify_sender_opts_t;

/* Creates the sender on loop; strings of opts are copied. *dbp is read at
 * each use (the service creates its pool later and clears it at shutdown);
 * while it is NULL nothing is sent. curl_global_init must have been called.
 * The periodic timer does not keep the loop alive. Returns 0 or an error. */
int notify_sender_new(uv_loop_t *loop, ct_db_t *const *dbp, const notify_sender_opts_t *opts,
                      notify_sender_t **out);
/* Looks for due notifications now (after a commit that added some). */
void notify_sender_kick(notify_sender_t *s);
/* Transfers in flight and notifications being marked. */
size_t notify_sender_inflight(const notify_sender_t *s);
/* Stops: aborts transfers in flight (their rows come back when the lease
 * ends), waits for database updates under way, closes every handle, then
 * calls cb(udata) and frees s. */
void notify_sender_close(notify_sender_t *s, void (*cb)(void *udata), void *udata);

#endif
