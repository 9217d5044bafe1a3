/* E-mail messages (RFC 5322 with MIME, RFC 2047 encoded words, quoted-
 * printable body) and recipient checks. Pure functions: values in, text out. */
#ifndef NOTIFY_MAIL_H
#define NOTIFY_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *from;       /* "Citerne <no-reply@citerne.invalid>" or a bare address */
    const char *to;         /* a bare address (notify_email_valid) */
    const char *subject;    /* UTF-8 */
    const char *body;       /* UTF-8, lines end with "\n" */
    int64_t date_ms;        /* Unix ms, written in UTC */
    const char *message_id; /* left part of the Message-ID (the notification id) */
} notify_mail_t;

/* The whole message, CRLF line ends, ready for SMTP DATA: From, To, Subject
 * (encoded words when not ASCII), Date, Message-ID (<id@domain of from>),
 * MIME-Version, Content-Type text/plain; charset=UTF-8,
 * Content-Transfer-Encoding quoted-printable, Auto-Submitted, body.
 * Returns a malloc'ed string (caller frees) and its length in *len, or NULL
 * when from has no address or memory runs out. */
char *notify_mail_build(const notify_mail_t *m, size_t *len);

/* The addr-spec of "Name <addr>" or of a bare address, into out. Returns 0,
 * or -1 when there is none or it does not fit. */
int notify_mail_address(const char *from, char *out, size_t size);

/* RFC 2047: text as is when it is printable ASCII, else "=?UTF-8?B?...?="
 * words of at most 75 characters (never splitting a UTF-8 sequence) joined
 * by CRLF SP (folding). malloc'ed; NULL on out of memory. */
char *notify_mail_encode_words(const char *text);

/* Quoted-printable (RFC 2045) of UTF-8 text: "\n" becomes CRLF, lines of at
 * most 76 characters with soft breaks, trailing spaces and a leading "." are
 * encoded. malloc'ed; NULL on out of memory. */
char *notify_mail_qp_encode(const char *text);

/* A plain ASCII address local@domain (what we accept from accounts), at
 * most 254 bytes, without anything that could break a header or SMTP. */
bool notify_email_valid(const char *s);
/* E.164: "+" then 8 to 15 digits, the first not 0. */
bool notify_phone_valid(const char *s);

#endif
