/* Pure rules of accounts (see rules.h). */
#include "rules.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

bool accounts_customer_number_valid(const char *s)
{
    if (!s || s[0] != 'C')
        return false;
    size_t n = strlen(s + 1);
    return n >= 6 && n <= 10 && all_digits(s + 1, n);
}

bool accounts_siret_valid(const char *s)
{
    return s && strlen(s) == 14 && all_digits(s, 14);
}

bool accounts_vat_rate_valid(long long bp)
{
    return bp == 550 || bp == 1000 || bp == 2000;
}

bool accounts_plan_allowed(const char *segment, const char *plan)
{
    if (!segment || !plan)
        return false;
    bool household = strcmp(segment, "household") == 0;
    bool business = strcmp(segment, "business") == 0;
    if (!household && !business)
        return false;
    if (strcmp(plan, "none") == 0)
        return true;
    if (strcmp(plan, "preference") == 0 || strcmp(plan, "privilege") == 0)
        return household;
    if (strcmp(plan, "pacte_maintenance") == 0)
        return business;
    return false;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool local_char_ok(char c)
{
    if (c <= 0x20 || c >= 0x7f)
        return false;
    return strchr("(),:;<>[]\\\"@", c) == NULL;
}

static bool label_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || is_digit(c) || c == '-';
}

static bool domain_ok(const char *d, size_t n)
{
    if (n == 0)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || d[i] == '.') {
            size_t len = i - start;
            if (len == 0 || len > 63 || d[start] == '-' || d[i - 1] == '-')
                return false;
            start = i + 1;
        } else if (!label_char_ok(d[i])) {
            return false;
        }
    }
    return true;
}

int accounts_email_normalise(const char *in, char out[ACCOUNTS_EMAIL_MAX + 1])
{
    out[0] = '\0';
    if (!in)
        return -1;
    while (is_space(*in))
        in++;
    size_t n = strlen(in);
    while (n > 0 && is_space(in[n - 1]))
        n--;
    if (n < 3 || n > ACCOUNTS_EMAIL_MAX)
        return -1;
    char buf[ACCOUNTS_EMAIL_MAX + 1];
    for (size_t i = 0; i < n; i++)
        buf[i] = ascii_lower(in[i]);
    buf[n] = '\0';

    const char *at = memchr(buf, '@', n);
    if (!at)
        return -1;
    size_t local = (size_t)(at - buf);
    if (local == 0 || local > 64)
        return -1;
    for (size_t i = 0; i < local; i++)
        if (!local_char_ok(buf[i]))
            return -1;
    /* a second '@' is caught by domain_ok: '@' is not a label character */
    if (!domain_ok(at + 1, n - local - 1))
        return -1;
    memcpy(out, buf, n + 1);
    return 0;
}

bool accounts_phone_valid(const char *s)
{
    if (!s || s[0] != '+' || s[1] == '0')
        return false;
    size_t n = strlen(s + 1);
    return n >= 8 && n <= 15 && all_digits(s + 1, n);
}

long accounts_utf8_length(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    long count = 0;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        size_t extra;
        unsigned cp;
        if (c < 0x80) {
            extra = 0;
            cp = c;
        } else if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return -1; /* continuation byte, 0xc0/0xc1 (overlong) or > 0xf4 */
        }
        if (len - i - 1 < extra)
            return -1;
        for (size_t k = 1; k <= extra; k++) {
            unsigned cc = p[i + k];
            if ((cc & 0xc0) != 0x80)
                return -1;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return -1;
        i += extra + 1;
        count++;
    }
    return count;
}

bool accounts_password_length_ok(const char *s, size_t len)
{
    if (!s)
        return false;
    long n = accounts_utf8_length(s, len);
    return n >= ACCOUNTS_PASSWORD_MIN && n <= ACCOUNTS_PASSWORD_MAX;
}

bool accounts_text_ok(const char *s, long min, long max)
{
    if (!s)
        return false;
    size_t len = strlen(s);
    long n = accounts_utf8_length(s, len);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_space(s[i]))
            return true;
    return min == 0;
}

void accounts_uuid_lower(char out[37], const char *in)
{
    size_t i = 0;
    for (; i < 36 && in[i]; i++)
        out[i] = ascii_lower(in[i]);
    out[i] = '\0';
}

void accounts_session_key(const char *token, char out[ACCOUNTS_SESSION_KEY_MAX])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
    memcpy(out, "ct:session:", 11);
    sodium_bin2hex(out + 11, ACCOUNTS_SESSION_KEY_MAX - 11, digest, sizeof digest);
}

static bool ip_literal(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Copies s[0..n) without surrounding spaces into out when it fits. */
static bool copy_trimmed(const char *s, size_t n, char out[ACCOUNTS_ADDR_MAX])
{
    while (n > 0 && is_space(*s))
        s++, n--;
    while (n > 0 && is_space(s[n - 1]))
        n--;
    if (n == 0 || n >= ACCOUNTS_ADDR_MAX)
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

static bool in_list(const char *ip, const char *list)
{
    while (list && *list) {
        size_t n = strcspn(list, ",");
        char item[ACCOUNTS_ADDR_MAX];
        if (copy_trimmed(list, n, item) && strcmp(item, ip) == 0)
            return true;
        list += n;
        if (*list == ',')
            list++;
    }
    return false;
}

void accounts_client_addr(const char *peer, const char *xff, const char *trusted_proxies,
                          char out[ACCOUNTS_ADDR_MAX])
{
    snprintf(out, ACCOUNTS_ADDR_MAX, "%s", peer ? peer : "unknown");
    if (out[0] == '[') { /* [v6]:port */
        char *end = strchr(out, ']');
        if (end) {
            *end = '\0';
            memmove(out, out + 1, strlen(out + 1) + 1);
        }
    } else if (strchr(out, ':') == strrchr(out, ':') && strchr(out, ':')) { /* v4:port */
        *strchr(out, ':') = '\0';
    }
    if (!xff || !in_list(out, trusted_proxies))
        return;
    const char *last = strrchr(xff, ',');
    last = last ? last + 1 : xff;
    char candidate[ACCOUNTS_ADDR_MAX];
    if (copy_trimmed(last, strlen(last), candidate) && ip_literal(candidate))
        memcpy(out, candidate, strlen(candidate) + 1);
}

void accounts_device_label(const char *ua, char out[64])
{
    static const struct {
        const char *needle, *name;
    } browsers[] =
        {
            {"Edg/", "Edge"},      {"OPR/", "Opera"},     {"Firefox/", "Firefox"},
            {"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"},
            {"python-", "Python"},
        },
      systems[] = {
          {"Android", "Android"}, {"iPhone", "iOS"},    {"iPad", "iPadOS"}, {"Windows", "Windows"},
          {"Mac OS X", "macOS"},  {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
      };
    const char *browser = NULL, *system = NULL;
    for (size_t i = 0; ua && !browser && i < sizeof browsers / sizeof browsers[0]; i++)
        if (strstr(ua, browsers[i].needle))
            browser = browsers[i].name;
    for (size_t i = 0; ua && !system && i < sizeof systems / sizeof systems[0]; i++)
        if (strstr(ua, systems[i].needle))
            system = systems[i].name;
    if (browser && system)
        snprintf(out, 64, "%s on %s", browser, system);
    else if (browser || system)
        snprintf(out, 64, "%s", browser ? browser : system);
    else
        snprintf(out, 64, "Unknown device");
}

void accounts_time_text(long long ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char day[24];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", day, (int)(ms % 1000));
}

const char *const accounts_pref_kinds[] = {"order_proposed", "delivery_scheduled",
                                           "delivery_confirmed", "invoice_issued", NULL};
const char *const accounts_pref_channels[] = {"email", "sms", "both", "none", NULL};

bool accounts_in_list(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}
