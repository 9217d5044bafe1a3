/* A tiny SMTP server for tests, on the test's loop: greets, accepts
 * EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, and keeps each message
 * received (the DATA text without the final dot line). A recipient whose
 * address contains "refuse" gets 550; one containing "mute" gets no answer. */
#ifndef NOTIFY_TEST_FAKE_SMTP_H
#define NOTIFY_TEST_FAKE_SMTP_H

#include <stddef.h>
#include <uv.h>

#define FAKE_SMTP_MAX 64

typedef struct {
    uv_tcp_t server;
    int port;
    int rcpt_reply; /* reply code to RCPT, 250 by default */
    int nmessages;
    char *messages[FAKE_SMTP_MAX]; /* malloc'ed */
    char *envelope[FAKE_SMTP_MAX]; /* "MAIL FROM:<..> RCPT TO:<..>" */
    int open;                      /* connections open */
    int muted;                     /* RCPT left unanswered ("mute" in the address) */
} fake_smtp_t;

/* Listens on 127.0.0.1, a free port (s->port). */
void fake_smtp_start(fake_smtp_t *s, uv_loop_t *loop);
/* Closes the listener (connections close when the client quits); frees the
 * messages kept. Run the loop afterwards so the close callbacks run. */
void fake_smtp_stop(fake_smtp_t *s);

#endif
