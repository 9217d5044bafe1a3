/* E-mail message composition. */
#include "mail.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- a growing buffer ---- */

typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} buf_t;

static void buf_add_n(buf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_add(buf_t *b, const char *s)
{
    buf_add_n(b, s, strlen(s));
}

static char *buf_take(buf_t *b, size_t *len)
{
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    if (!b->p)
        buf_add_n(b, "", 0);
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    if (len)
        *len = b->len;
    return b->p;
}

/* ---- checks ---- */

static bool is_atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

bool notify_email_valid(const char *s)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (n < 3 || n > 254 || !at || strchr(at + 1, '@'))
        return false;
    size_t local = (size_t)(at - s);
    if (local < 1 || local > 64 || s[0] == '.' || at[-1] == '.')
        return false;
    for (const char *p = s; p < at; p++)
        if (!is_atext((unsigned char)*p) && !(*p == '.' && p[1] != '.'))
            return false;
    const char *d = at + 1;
    if (!*d || *d == '.' || *d == '-')
        return false;
    for (const char *p = d; *p; p++) {
        unsigned char c = (unsigned char)*p;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (c == '.') {
            if (p[1] == '.' || p[1] == '\0' || p[-1] == '-' || p[1] == '-')
                return false;
        } else if (!alnum && c != '-') {
            return false;
        }
    }
    return true;
}

bool notify_phone_valid(const char *s)
{
    if (!s || s[0] != '+' || s[1] < '1' || s[1] > '9')
        return false;
    size_t n = 0;
    for (const char *p = s + 1; *p; p++, n++)
        if (*p < '0' || *p > '9')
            return false;
    return n >= 8 && n <= 15;
}

int notify_mail_address(const char *from, char *out, size_t size)
{
    if (!from)
        return -1;
    const char *lt = strrchr(from, '<');
    const char *start = from, *end = from + strlen(from);
    if (lt) {
        const char *gt = strchr(lt, '>');
        if (!gt)
            return -1;
        start = lt + 1;
        end = gt;
    } else {
        while (*start == ' ')
            start++;
        while (end > start && end[-1] == ' ')
            end--;
    }
    size_t n = (size_t)(end - start);
    if (n == 0 || n >= size)
        return -1;
    memcpy(out, start, n);
    out[n] = '\0';
    return notify_email_valid(out) ? 0 : -1;
}

/* ---- RFC 2047 ---- */

static bool printable_ascii(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return false;
    return true;
}

/* 45 bytes of text make 60 characters of base64: with "=?UTF-8?B?" and "?="
 * a word is 72 characters, under the 75 of RFC 2047. */
#define WORD_BYTES 45

char *notify_mail_encode_words(const char *text)
{
    buf_t b = {0};
    if (printable_ascii(text)) {
        buf_add(&b, text);
        return buf_take(&b, NULL);
    }
    const unsigned char *p = (const unsigned char *)text;
    size_t left = strlen(text);
    bool first = true;
    while (left > 0) {
        size_t n = left < WORD_BYTES ? left : WORD_BYTES;
        /* never cut inside a UTF-8 sequence */
        while (n < left && n > 0 && (p[n] & 0xc0) == 0x80)
            n--;
        if (n == 0)
            n = left < WORD_BYTES ? left : WORD_BYTES;
        char b64[sodium_base64_ENCODED_LEN(WORD_BYTES, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(b64, sizeof b64, p, n, sodium_base64_VARIANT_ORIGINAL);
        if (!first)
            buf_add(&b, "\r\n ");
        buf_add(&b, "=?UTF-8?B?");
        buf_add(&b, b64);
        buf_add(&b, "?=");
        first = false;
        p += n;
        left -= n;
    }
    return buf_take(&b, NULL);
}

/* ---- quoted-printable ---- */

#define QP_LINE 76

char *notify_mail_qp_encode(const char *text)
{
    buf_t b = {0};
    const unsigned char *p = (const unsigned char *)text;
    size_t col = 0;
    while (*p) {
        if (*p == '\n' || (*p == '\r' && p[1] == '\n')) {
            buf_add(&b, "\r\n");
            p += *p == '\r' ? 2 : 1;
            col = 0;
            continue;
        }
        unsigned char c = *p;
        bool line_end = p[1] == '\0' || p[1] == '\n' || (p[1] == '\r' && p[2] == '\n');
        bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !line_end);
        if (c == '.' && col == 0)
            literal = false;
        char tok[4];
        if (literal) {
            tok[0] = (char)c;
            tok[1] = '\0';
        } else {
            snprintf(tok, sizeof tok, "=%02X", c);
        }
        size_t n = strlen(tok);
        /* a soft break "=" must fit in the line too, unless this token ends it */
        if (col + n > (line_end ? QP_LINE : QP_LINE - 1)) {
            buf_add(&b, "=\r\n");
            col = 0;
            if (c == '.') {
                snprintf(tok, sizeof tok, "=%02X", c);
                n = 3;
            }
        }
        buf_add(&b, tok);
        col += n;
        p++;
    }
    if (col > 0)
        buf_add(&b, "\r\n");
    return buf_take(&b, NULL);
}

/* ---- the message ---- */

static bool display_name_is_atoms(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!is_atext(*p) && *p != ' ')
            return false;
    return true;
}

static void add_from(buf_t *b, const char *from, const char *addr)
{
    buf_add(b, "From: ");
    const char *lt = strrchr(from, '<');
    if (lt) {
        const char *s = from, *e = lt;
        while (*s == ' ')
            s++;
        while (e > s && e[-1] == ' ')
            e--;
        size_t n = (size_t)(e - s);
        char *name = malloc(n + 1);
        if (!name) {
            b->oom = true;
            return;
        }
        memcpy(name, s, n);
        name[n] = '\0';
        if (n > 0) {
            if (display_name_is_atoms(name)) {
                buf_add(b, name);
            } else {
                /* encoded words are always safe in a phrase */
                char *enc = NULL;
                buf_t one = {0};
                bool ascii = printable_ascii(name);
                if (ascii) {
                    /* force the encoding of specials: B words take anything */
                    buf_add(&one, "=?UTF-8?B?");
                    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
                    char *b64 = malloc(cap);
                    if (b64) {
                        sodium_bin2base64(b64, cap, (const unsigned char *)name, n,
                                          sodium_base64_VARIANT_ORIGINAL);
                        buf_add(&one, b64);
                        free(b64);
                    } else {
                        one.oom = true;
                    }
                    buf_add(&one, "?=");
                    enc = buf_take(&one, NULL);
                } else {
                    enc = notify_mail_encode_words(name);
                }
                if (enc)
                    buf_add(b, enc);
                else
                    b->oom = true;
                free(enc);
            }
            buf_add(b, " ");
        }
        free(name);
    }
    buf_add(b, "<");
    buf_add(b, addr);
    buf_add(b, ">\r\n");
}

char *notify_mail_build(const notify_mail_t *m, size_t *len)
{
    char addr[256];
    if (notify_mail_address(m->from, addr, sizeof addr) != 0)
        return NULL;
    buf_t b = {0};
    add_from(&b, m->from, addr);
    buf_add(&b, "To: <");
    buf_add(&b, m->to);
    buf_add(&b, ">\r\n");

    char *subject = notify_mail_encode_words(m->subject ? m->subject : "");
    if (!subject)
        b.oom = true;
    buf_add(&b, "Subject: ");
    if (subject)
        buf_add(&b, subject);
    buf_add(&b, "\r\n");
    free(subject);

    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(m->date_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char line[160];
    snprintf(line, sizeof line, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    buf_add(&b, line);
    buf_add(&b, "Message-ID: <");
    buf_add(&b, m->message_id);
    buf_add(&b, strchr(addr, '@'));
    buf_add(&b, ">\r\n");
    buf_add(&b, "MIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=UTF-8\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n"
                "Auto-Submitted: auto-generated\r\n"
                "\r\n");
    char *body = notify_mail_qp_encode(m->body ? m->body : "");
    if (!body)
        b.oom = true;
    else
        buf_add(&b, body);
    free(body);
    return buf_take(&b, len);
}
