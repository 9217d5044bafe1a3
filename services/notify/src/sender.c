/* The sender, fed by leased rows of the notifications table.
 *
 * SMS go through libcurl's multi interface on the loop (the multi-uv.c
 * pattern of curl's examples). E-mails do not: libcurl's SMTP "done" phase
 * waits for the server's reply to the final "." with a blocking poll, even
 * in the multi interface (curl issue #8555, a known limitation up to at
 * least 7.88, our Debian version), which would stall the loop for as long as
 * the mail server takes to answer. So each e-mail is sent with
 * curl_easy_perform on the libuv thread pool (uv_queue_work), where blocking
 * is allowed, and its outcome is handled back on the loop like an SMS's. */
#include "sender.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/error.h"
#include "citerne/event.h"
#include "citerne/id.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "citerne/outbox.h"
#include "citerne/v1/notify.pb-c.h"
#include "mail.h"
#include "store.h"
#include "templates.h"

#define MAX_RETRY_MS (3600L * 1000)

typedef struct sock sock_t;
typedef struct job job_t;

struct sock {
    uv_poll_t poll;
    notify_sender_t *s;
    curl_socket_t fd;
    sock_t *prev, *next;
};

struct job {
    notify_sender_t *s;
    job_t *prev, *next; /* in s->transfers (SMS) or s->works (e-mail) while sending */
    uv_work_t work;     /* e-mail: curl_easy_perform on the thread pool */
    CURLcode result;    /* e-mail: set by the pool thread */
    long code;
    CURL *easy;
    struct curl_slist *list; /* SMTP recipients or HTTP headers */
    char id[CT_UUID_STRLEN + 1];
    notify_channel_t channel;
    int attempts;  /* before this one */
    char *payload; /* the mail text (read by curl) or the JSON body */
    size_t len, off;
    char errbuf[CURL_ERROR_SIZE];
    /* outcome */
    bool permanent;
    char error[300];
    ct_event_meta_t meta;
    uint8_t *event;
    size_t event_len;
};

struct notify_sender {
    uv_loop_t *loop;
    ct_db_t *const *dbp;
    notify_sender_opts_t o;
    char *smtp_url, *smtp_from, *sms_url, *sms_token, *topic;
    char mail_from[256]; /* envelope address */
    char channels[16];   /* "{email,sms}" of the configured channels */
    long lease_ms;
    CURLM *multi;
    uv_timer_t poll_timer, curl_timer;
    sock_t *socks;
    job_t *transfers;  /* SMS in the multi handle */
    job_t *works;      /* e-mails on the thread pool */
    atomic_bool abort; /* read by the pool threads' progress callbacks */
    size_t inflight;   /* transfers + rows being marked */
    int pending_db;    /* claim and mark queries under way */
    int open_handles;
    bool claiming, again, closing;
    void (*closed_cb)(void *);
    void *closed_udata;
};

static void pump(notify_sender_t *s);
static void maybe_free(notify_sender_t *s);

static ct_metric_t *metric(const char *name, const char *help)
{
    return ct_metrics_counter(name, help);
}

/* ---- curl <-> libuv ---- */

static void on_sock_closed(uv_handle_t *h)
{
    sock_t *k = h->data;
    notify_sender_t *s = k->s;
    free(k);
    s->open_handles--;
    maybe_free(s);
}

static void sock_release(sock_t *k)
{
    notify_sender_t *s = k->s;
    if (k->prev)
        k->prev->next = k->next;
    else
        s->socks = k->next;
    if (k->next)
        k->next->prev = k->prev;
    uv_poll_stop(&k->poll);
    uv_close((uv_handle_t *)&k->poll, on_sock_closed);
}

static void check_multi(notify_sender_t *s);

static void on_poll(uv_poll_t *p, int status, int events)
{
    sock_t *k = p->data;
    notify_sender_t *s = k->s;
    int flags = 0;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    int running = 0;
    curl_multi_socket_action(s->multi, k->fd, flags, &running);
    check_multi(s);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    notify_sender_t *s = userp;
    sock_t *k = socketp;
    if (s->closing)
        return 0;
    if (what == CURL_POLL_REMOVE) {
        if (k) {
            curl_multi_assign(s->multi, fd, NULL);
            sock_release(k);
        }
        return 0;
    }
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k)
            return -1;
        if (uv_poll_init_socket(s->loop, &k->poll, fd) != 0) {
            free(k);
            return -1;
        }
        k->s = s;
        k->fd = fd;
        k->poll.data = k;
        k->next = s->socks;
        if (s->socks)
            s->socks->prev = k;
        s->socks = k;
        s->open_handles++;
        curl_multi_assign(s->multi, fd, k);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&k->poll, events, on_poll);
    return 0;
}

static void on_curl_timeout(uv_timer_t *t)
{
    notify_sender_t *s = t->data;
    int running = 0;
    curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi(s);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    notify_sender_t *s = userp;
    if (s->closing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&s->curl_timer);
    else /* 0 means at once: the next loop iteration, never from inside curl */
        uv_timer_start(&s->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- jobs ---- */

static void job_free(job_t *j)
{
    if (j->easy)
        curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->list);
    if (j->payload) /* it may hold a single-use link */
        sodium_memzero(j->payload, j->len);
    free(j->payload);
    free(j->event);
    free(j);
}

static void job_link(job_t **head, job_t *j)
{
    j->prev = NULL;
    j->next = *head;
    if (*head)
        (*head)->prev = j;
    *head = j;
}

static void job_unlink(job_t *j)
{
    notify_sender_t *s = j->s;
    job_t **head = j->channel == NOTIFY_CHANNEL_EMAIL ? &s->works : &s->transfers;
    if (j->prev)
        j->prev->next = j->next;
    else
        *head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    j->prev = j->next = NULL;
}

static void job_finished(job_t *j)
{
    notify_sender_t *s = j->s;
    s->inflight--;
    job_free(j);
    if (s->closing)
        maybe_free(s);
    else
        pump(s);
}

static size_t read_mail(char *buf, size_t size, size_t nitems, void *udata)
{
    job_t *j = udata;
    size_t room = size * nitems, left = j->len - j->off;
    size_t n = left < room ? left : room;
    memcpy(buf, j->payload + j->off, n);
    j->off += n;
    return n;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *udata)
{
    (void)ptr;
    (void)udata;
    return size * nmemb;
}

static int on_progress(void *udata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow);
static void smtp_work(uv_work_t *w);
static void smtp_after(uv_work_t *w, int status);

static int prepare_email(job_t *j, const char *recipient, const char *subject, const char *body)
{
    notify_sender_t *s = j->s;
    notify_mail_t m = {
        .from = s->smtp_from,
        .to = recipient,
        .subject = subject,
        .body = body,
        .date_ms = ct_now_ms(),
        .message_id = j->id,
    };
    j->payload = notify_mail_build(&m, &j->len);
    if (!j->payload)
        return CT_EINTERNAL;
    char rcpt[300];
    snprintf(rcpt, sizeof rcpt, "<%s>", recipient);
    char from[300];
    snprintf(from, sizeof from, "<%s>", s->mail_from);
    j->list = curl_slist_append(NULL, rcpt);
    if (!j->list)
        return CT_EINTERNAL;
    curl_easy_setopt(j->easy, CURLOPT_URL, s->smtp_url);
    curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(j->easy, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(j->easy, CURLOPT_MAIL_RCPT, j->list);
    curl_easy_setopt(j->easy, CURLOPT_READFUNCTION, read_mail);
    curl_easy_setopt(j->easy, CURLOPT_READDATA, j);
    curl_easy_setopt(j->easy, CURLOPT_UPLOAD, 1L);
    /* bounds each wait for a reply, QUIT at cleanup included (default 120 s) */
    curl_easy_setopt(j->easy, CURLOPT_SERVER_RESPONSE_TIMEOUT, (s->o.timeout_ms + 999) / 1000);
    /* lets a close abort a send under way on the pool */
    curl_easy_setopt(j->easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(j->easy, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(j->easy, CURLOPT_XFERINFODATA, j);
    return 0;
}

static int prepare_sms(job_t *j, const char *recipient, const char *body)
{
    notify_sender_t *s = j->s;
    json_t *doc = json_pack("{s:s, s:s, s:s}", "to", recipient, "text", body, "reference", j->id);
    j->payload = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!j->payload)
        return CT_EINTERNAL;
    j->len = strlen(j->payload);
    char auth[600];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s->sms_token ? s->sms_token : "");
    struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/json");
    if (l)
        j->list = l;
    l = l ? curl_slist_append(l, auth) : NULL;
    sodium_memzero(auth, sizeof auth); /* the token does not linger on the stack */
    if (!l)
        return CT_EINTERNAL;
    curl_easy_setopt(j->easy, CURLOPT_URL, s->sms_url);
    curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->list);
    curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->payload);
    curl_easy_setopt(j->easy, CURLOPT_POSTFIELDSIZE, (long)j->len);
    curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, discard);
    return 0;
}

/* Starts one claimed row; on failure to even start, the row is recorded as
 * failed for this attempt like any other failure. */
static void record_failure(job_t *j);

static void start_job(notify_sender_t *s, const PGresult *res, int row)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return; /* the lease ends and the row comes back */
    j->s = s;
    s->inflight++;
    snprintf(j->id, sizeof j->id, "%s", ct_db_get(res, row, "notification_id"));
    const char *channel = ct_db_get(res, row, "channel");
    j->channel = channel && strcmp(channel, "sms") == 0 ? NOTIFY_CHANNEL_SMS : NOTIFY_CHANNEL_EMAIL;
    j->attempts = (int)ct_db_get_int(res, row, "attempts", 0);
    const char *recipient = ct_db_get(res, row, "recipient");
    const char *subject = ct_db_get(res, row, "subject");
    const char *body = ct_db_get(res, row, "body");

    j->easy = curl_easy_init();
    int rc = j->easy ? 0 : CT_EINTERNAL;
    if (rc == 0) {
        curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
        curl_easy_setopt(j->easy, CURLOPT_ERRORBUFFER, j->errbuf);
        curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS, s->o.timeout_ms);
        curl_easy_setopt(j->easy, CURLOPT_CONNECTTIMEOUT_MS,
                         s->o.timeout_ms < 10000 ? s->o.timeout_ms : 10000L);
        if (j->channel == NOTIFY_CHANNEL_EMAIL)
            rc = prepare_email(j, recipient ? recipient : "", subject ? subject : "",
                               body ? body : "");
        else
            rc = prepare_sms(j, recipient ? recipient : "", body ? body : "");
    }
    if (rc == 0) {
        if (j->channel == NOTIFY_CHANNEL_EMAIL) {
            j->work.data = j;
            if (uv_queue_work(s->loop, &j->work, smtp_work, smtp_after) != 0)
                rc = CT_EINTERNAL;
            else
                job_link(&s->works, j);
        } else {
            if (curl_multi_add_handle(s->multi, j->easy) != CURLM_OK)
                rc = CT_EINTERNAL;
            else
                job_link(&s->transfers, j);
        }
    }
    if (rc != 0) {
        snprintf(j->error, sizeof j->error, "could not prepare the %s",
                 j->channel == NOTIFY_CHANNEL_SMS ? "SMS" : "e-mail");
        record_failure(j);
    }
}

/* ---- outcome: sent ---- */

static void on_sent_done(const ct_db_error_t *err, void *udata)
{
    job_t *j = udata;
    if (err)
        ct_log_warn("notification %s sent but not marked (%s); it may be sent again", j->id,
                    err->message ? err->message : "");
    job_finished(j);
}

static void on_sent_appended(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_commit(tx);
}

static void on_marked_sent(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    job_t *j = udata;
    notify_sender_t *s = j->s;
    if (PQntuples(res) != 1) {
        ct_db_tx_commit(tx); /* no longer pending: someone else settled it */
        return;
    }
    Citerne__V1__EventMeta cause = CITERNE__V1__EVENT_META__INIT;
    cause.event_id = (char *)ct_db_get(res, 0, "cause_event_id");
    cause.correlation_id = (char *)ct_db_get(res, 0, "correlation_id");
    ct_event_meta_init(&j->meta, "notify", &cause);
    Citerne__V1__NotificationSent body = CITERNE__V1__NOTIFICATION_SENT__INIT;
    body.notification_id = j->id;
    body.customer_id = (char *)ct_db_get(res, 0, "customer_id");
    const char *user_id = ct_db_get(res, 0, "user_id");
    body.user_id = (char *)(user_id ? user_id : ""); /* none: an invitation, keyed on the address */
    body.channel = (char *)ct_db_get(res, 0, "channel");
    body.kind = (char *)ct_db_get(res, 0, "kind");
    body.cause_event_id = cause.event_id;
    Citerne__V1__NotifyEvent out = CITERNE__V1__NOTIFY_EVENT__INIT;
    out.meta = &j->meta.meta;
    out.body_case = CITERNE__V1__NOTIFY_EVENT__BODY_NOTIFICATION_SENT;
    out.notification_sent = &body;
    j->event_len = citerne__v1__notify_event__get_packed_size(&out);
    j->event = malloc(j->event_len ? j->event_len : 1);
    if (!j->event) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    citerne__v1__notify_event__pack(&out, j->event);
    ct_outbox_append(tx, s->topic, body.customer_id, j->event, j->event_len, j->meta.event_id,
                     on_sent_appended);
}

static void on_sent_begin(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    job_t *j = udata;
    notify_store_mark_sent(tx, j->id, on_marked_sent);
}

static void record_success(job_t *j)
{
    notify_sender_t *s = j->s;
    ct_metric_inc(j->channel == NOTIFY_CHANNEL_SMS
                      ? metric("citerne_notifications_sent_total{channel=\"sms\"}",
                               "Notifications accepted by the provider")
                      : metric("citerne_notifications_sent_total{channel=\"email\"}",
                               "Notifications accepted by the provider"));
    ct_db_t *db = *s->dbp;
    if (!db || ct_db_tx_begin(db, on_sent_begin, on_sent_done, j) != 0) {
        ct_log_warn("notification %s sent but not marked; it may be sent again", j->id);
        job_finished(j);
    }
}

/* ---- outcome: failed ---- */

static void on_failure_recorded(const ct_db_error_t *err, PGresult *res, void *udata)
{
    (void)res;
    job_t *j = udata;
    if (err)
        ct_log_warn("notification %s: failure not recorded (%s)", j->id,
                    err->message ? err->message : "");
    job_finished(j);
}

static long retry_delay_ms(const notify_sender_t *s, int attempts_done)
{
    long d = (long)s->o.retry_base_ms;
    for (int i = 1; i < attempts_done && d < MAX_RETRY_MS; i++)
        d *= 2;
    return d < MAX_RETRY_MS ? d : MAX_RETRY_MS;
}

static void record_failure(job_t *j)
{
    notify_sender_t *s = j->s;
    int attempts = j->attempts + 1;
    bool final = j->permanent || attempts >= s->o.max_attempts;
    if (final)
        ct_log_error("notification %s (%s) failed for good after %d attempt(s): %s", j->id,
                     notify_channel_name(j->channel), attempts, j->error);
    else
        ct_log_warn("notification %s (%s) attempt %d failed: %s", j->id,
                    notify_channel_name(j->channel), attempts, j->error);
    ct_metric_inc(
        metric(final ? "citerne_notifications_failed_total" : "citerne_notifications_retried_total",
               "Failed notification attempts"));
    ct_db_t *db = *s->dbp;
    if (!db || notify_store_mark_failed(db, j->id, j->error, j->permanent, s->o.max_attempts,
                                        retry_delay_ms(s, attempts), on_failure_recorded, j) != 0)
        job_finished(j); /* the lease ends and the row comes back */
}

/* ---- transfers done ---- */

/* The outcome of one send, on the loop; the easy handle is gone. */
static void send_done(job_t *j, CURLcode result, long code)
{
    if (j->channel == NOTIFY_CHANNEL_EMAIL) {
        if (result == CURLE_OK) {
            record_success(j);
            return;
        }
        j->permanent = code >= 500 && code < 600; /* the server refused for good */
        snprintf(j->error, sizeof j->error, "smtp: %s (reply %ld)",
                 j->errbuf[0] ? j->errbuf : curl_easy_strerror(result), code);
    } else {
        if (result == CURLE_OK && code >= 200 && code < 300) {
            record_success(j);
            return;
        }
        if (result == CURLE_OK) {
            j->permanent = code >= 400 && code < 500 && code != 408 && code != 429;
            snprintf(j->error, sizeof j->error, "sms provider answered HTTP %ld", code);
        } else {
            snprintf(j->error, sizeof j->error, "sms: %s",
                     j->errbuf[0] ? j->errbuf : curl_easy_strerror(result));
        }
    }
    record_failure(j);
}

static void transfer_done(job_t *j, CURLcode result)
{
    long code = 0;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(j->s->multi, j->easy);
    curl_easy_cleanup(j->easy);
    j->easy = NULL;
    job_unlink(j);
    send_done(j, result, code);
}

/* Pool thread: only the job's own easy handle is touched here. The handle
 * is cleaned up here too: closing its connection sends QUIT and waits for
 * the reply, another blocking step (one SMTP session per e-mail). */
static void smtp_work(uv_work_t *w)
{
    job_t *j = w->data;
    j->result = curl_easy_perform(j->easy);
    j->code = 0;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &j->code);
    curl_easy_cleanup(j->easy);
    j->easy = NULL;
}

static void smtp_after(uv_work_t *w, int status)
{
    job_t *j = w->data;
    notify_sender_t *s = j->s;
    if (j->easy) { /* cancelled before it started: no connection to close */
        curl_easy_cleanup(j->easy);
        j->easy = NULL;
    }
    job_unlink(j);
    if (s->closing || status != 0) {
        /* aborted or cancelled at close: the lease brings the row back */
        s->inflight--;
        job_free(j);
        maybe_free(s);
        return;
    }
    send_done(j, j->result, j->code);
}

static int on_progress(void *udata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    job_t *j = udata;
    return atomic_load(&j->s->abort) ? 1 : 0;
}

static void check_multi(notify_sender_t *s)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        job_t *j = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        CURLcode result = m->data.result;
        if (j)
            transfer_done(j, result); /* m is invalid from here */
    }
}

/* ---- claiming ---- */

static void on_claimed(const ct_db_error_t *err, PGresult *res, void *udata)
{
    notify_sender_t *s = udata;
    s->pending_db--;
    s->claiming = false;
    if (s->closing) {
        /* rows just claimed come back when their lease ends */
        maybe_free(s);
        return;
    }
    if (err) {
        /* before migrations the table may not exist yet: the timer retries */
        if (strcmp(err->sqlstate ? err->sqlstate : "", "42P01") != 0)
            ct_log_warn("notify sender: claim failed: %s", err->message ? err->message : "");
        s->again = false;
        return;
    }
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        start_job(s, res, i);
    if (n > 0 || s->again) {
        s->again = false;
        pump(s);
    }
}

static void pump(notify_sender_t *s)
{
    if (s->closing || !s->channels[0])
        return;
    if (s->claiming) {
        s->again = true;
        return;
    }
    ct_db_t *db = *s->dbp;
    if (!db || s->inflight >= (size_t)s->o.max_inflight)
        return;
    int room = s->o.max_inflight - (int)s->inflight;
    if (notify_store_claim(db, room, s->lease_ms, s->channels, on_claimed, s) != 0)
        return;
    s->claiming = true;
    s->pending_db++;
}

static void on_poll_timer(uv_timer_t *t)
{
    pump(t->data);
}

void notify_sender_kick(notify_sender_t *s)
{
    pump(s);
}

size_t notify_sender_inflight(const notify_sender_t *s)
{
    return s->inflight;
}

/* ---- life cycle ---- */

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

int notify_sender_new(uv_loop_t *loop, ct_db_t *const *dbp, const notify_sender_opts_t *opts,
                      notify_sender_t **out)
{
    notify_sender_t *s = calloc(1, sizeof *s);
    if (!s)
        return CT_EINTERNAL;
    s->loop = loop;
    s->dbp = dbp;
    s->o = *opts;
    if (s->o.max_inflight <= 0)
        s->o.max_inflight = 8;
    if (s->o.poll_ms == 0)
        s->o.poll_ms = 5000;
    if (s->o.retry_base_ms == 0)
        s->o.retry_base_ms = 30000;
    if (s->o.max_attempts <= 0)
        s->o.max_attempts = 10;
    if (s->o.timeout_ms <= 0)
        s->o.timeout_ms = 30000;
    s->lease_ms = 2 * s->o.timeout_ms + 60000;
    s->smtp_url = dup_or_null(opts->smtp_url);
    s->smtp_from =
        strdup(opts->smtp_from && *opts->smtp_from ? opts->smtp_from
                                                   : "Citerne <no-reply@citerne.invalid>");
    s->sms_url = dup_or_null(opts->sms_url);
    s->sms_token = dup_or_null(opts->sms_token);
    s->topic = strdup(opts->topic ? opts->topic : "citerne.notify.v1");
    s->o.smtp_url = s->o.smtp_from = s->o.sms_url = s->o.sms_token = s->o.topic = NULL;
    int rc = 0;
    if (!s->smtp_from || !s->topic)
        rc = CT_EINTERNAL;
    else if (s->smtp_url && notify_mail_address(s->smtp_from, s->mail_from, sizeof s->mail_from))
        rc = CT_ECONFIG;
    if (rc == 0) {
        snprintf(s->channels, sizeof s->channels, "%s%s%s%s", s->smtp_url || s->sms_url ? "{" : "",
                 s->smtp_url ? "email" : "", s->smtp_url && s->sms_url ? "," : "",
                 s->sms_url    ? "sms}"
                 : s->smtp_url ? "}"
                               : "");
        s->multi = curl_multi_init();
        if (!s->multi)
            rc = CT_EINTERNAL;
    }
    if (rc != 0) {
        free(s->smtp_url);
        free(s->smtp_from);
        free(s->sms_url);
        if (s->sms_token)
            sodium_memzero(s->sms_token, strlen(s->sms_token));
        free(s->sms_token);
        free(s->topic);
        free(s);
        return rc;
    }
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
    uv_timer_init(loop, &s->poll_timer);
    uv_timer_init(loop, &s->curl_timer);
    s->poll_timer.data = s;
    s->curl_timer.data = s;
    s->open_handles = 2;
    uv_timer_start(&s->poll_timer, on_poll_timer, s->o.poll_ms, s->o.poll_ms);
    uv_unref((uv_handle_t *)&s->poll_timer);
    *out = s;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    notify_sender_t *s = h->data;
    s->open_handles--;
    maybe_free(s);
}

static void maybe_free(notify_sender_t *s)
{
    if (!s->closing || s->open_handles > 0 || s->inflight > 0 || s->pending_db > 0)
        return;
    void (*cb)(void *) = s->closed_cb;
    void *udata = s->closed_udata;
    free(s->smtp_url);
    free(s->smtp_from);
    free(s->sms_url);
    if (s->sms_token)
        sodium_memzero(s->sms_token, strlen(s->sms_token));
    free(s->sms_token);
    free(s->topic);
    free(s);
    if (cb)
        cb(udata);
}

void notify_sender_close(notify_sender_t *s, void (*cb)(void *udata), void *udata)
{
    if (s->closing)
        return;
    s->closing = true;
    s->closed_cb = cb;
    s->closed_udata = udata;
    /* e-mails on the pool: cancel those not started, abort the others
     * (their after-callbacks free them) */
    atomic_store(&s->abort, true);
    for (job_t *j = s->works; j; j = j->next)
        uv_cancel((uv_req_t *)&j->work);
    /* stop watching first, while curl's sockets are still open */
    while (s->socks) {
        curl_multi_assign(s->multi, s->socks->fd, NULL);
        sock_release(s->socks);
    }
    while (s->transfers) {
        job_t *j = s->transfers;
        job_unlink(j);
        curl_multi_remove_handle(s->multi, j->easy);
        s->inflight--;
        job_free(j); /* its lease ends and another attempt follows */
    }
    curl_multi_cleanup(s->multi);
    s->multi = NULL;
    uv_timer_stop(&s->poll_timer);
    uv_timer_stop(&s->curl_timer);
    uv_close((uv_handle_t *)&s->poll_timer, on_timer_closed);
    uv_close((uv_handle_t *)&s->curl_timer, on_timer_closed);
}
