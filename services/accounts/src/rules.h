/* Pure rules of accounts: values in, values out, no I/O, any thread. */
#ifndef ACCOUNTS_RULES_H
#define ACCOUNTS_RULES_H

#include <stdbool.h>
#include <stddef.h>

/* Longest normalised e-mail address (RFC 5321 path limit), plus NUL. */
#define ACCOUNTS_EMAIL_MAX 254
/* Password length bounds, in Unicode code points. */
#define ACCOUNTS_PASSWORD_MIN 12
#define ACCOUNTS_PASSWORD_MAX 128

/* A customer number: "C" followed by 6 to 10 ASCII digits, nothing else.
 * NULL is not valid. */
bool accounts_customer_number_valid(const char *s);

/* A SIRET: exactly 14 ASCII digits (the Luhn key is not checked: a few real
 * SIRETs, La Poste's, do not satisfy it). NULL is not valid. */
bool accounts_siret_valid(const char *s);

/* VAT rate for services, in basis points: 550, 1000 or 2000. */
bool accounts_vat_rate_valid(long long bp);

/* Whether a maintenance plan may be taken by a customer of that segment:
 * "none" by anyone, "preference" and "privilege" by households only,
 * "pacte_maintenance" by businesses only. Unknown values are refused. */
bool accounts_plan_allowed(const char *segment, const char *plan);

/* Normalises an e-mail address into out (ACCOUNTS_EMAIL_MAX + 1 bytes):
 * surrounding white space removed, lower-cased (ASCII). Returns 0 when the
 * result passes the basic syntax check (3..254 characters, one '@', a local
 * part of 1..64 printable ASCII characters without white space or
 * "(),:;<>[]\\\"", a domain of dot-separated labels of letters, digits and
 * hyphens, no empty label, no label starting or ending with '-'), -1
 * otherwise (out then holds an empty string). */
int accounts_email_normalise(const char *in, char out[ACCOUNTS_EMAIL_MAX + 1]);

/* E.164: "+" then 8 to 15 digits, the first not 0. NULL is not valid. */
bool accounts_phone_valid(const char *s);

/* Number of Unicode code points of a valid UTF-8 string of len bytes, or -1
 * when the bytes are not valid UTF-8 (overlong forms, surrogates, values past
 * U+10FFFF and truncated sequences are invalid). */
long accounts_utf8_length(const char *s, size_t len);

/* A password of ACCOUNTS_PASSWORD_MIN..ACCOUNTS_PASSWORD_MAX code points of
 * valid UTF-8. */
bool accounts_password_length_ok(const char *s, size_t len);

/* A display text (name, address): valid UTF-8 of min..max code points, not
 * made only of white space. NULL is not valid. */
bool accounts_text_ok(const char *s, long min, long max);

/* Copies a canonical UUID text (36 characters) into out, lower-cased, so
 * that ids given in upper case still key events like the ids we made. */
void accounts_uuid_lower(char out[37], const char *in);

/* Redis key of a session (session.h): "ct:session:" then the hex SHA-256 of
 * the cookie's token text. out holds ACCOUNTS_SESSION_KEY_MAX bytes. */
#define ACCOUNTS_SESSION_KEY_MAX (11 + 64 + 1)
void accounts_session_key(const char *token, char out[ACCOUNTS_SESSION_KEY_MAX]);

/* The client's address as the throttle sees it, into out (64 bytes):
 * the IP of peer (ct_http_peer: "1.2.3.4:5678", "[::1]:80"; anything
 * else is copied as is). When that IP is one of trusted_proxies (a
 * comma-separated list of IP literals, NULL or "" for none) and xff (the
 * X-Forwarded-For header) is given, the last entry of xff instead (the
 * address our proxy saw), when it is an IPv4 or IPv6 literal. */
#define ACCOUNTS_ADDR_MAX 64
void accounts_client_addr(const char *peer, const char *xff, const char *trusted_proxies,
                          char out[ACCOUNTS_ADDR_MAX]);

/* A short readable device from a User-Agent: "Firefox on Linux",
 * "Safari on iOS", "curl"; "Unknown device" when nothing is recognised
 * (NULL included). */
void accounts_device_label(const char *user_agent, char out[64]);

/* Unix ms (>= 0) as RFC 3339 UTC with milliseconds: "2026-11-22T07:05:29.790Z". */
void accounts_time_text(long long ms, char out[32]);

/* Kinds of message a user sets a channel for (notify's kinds), and the
 * channels: NULL-terminated lists. */
extern const char *const accounts_pref_kinds[];
extern const char *const accounts_pref_channels[];
/* Whether s is in the NULL-terminated list. NULL is not. */
bool accounts_in_list(const char *s, const char *const *list);

#endif
