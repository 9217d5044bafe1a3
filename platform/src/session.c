/* Sessions in Redis. Redis keeps only the SHA-256 of the token, so a dump of
 * Redis does not hand out live sessions. A stored record that does not parse
 * is treated as no session (fail closed) and logged without its content. */
#include "citerne/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "citerne/error.h"
#include "citerne/log.h"

#define TOKEN_BYTES 32
#define TOKEN_HEX (2 * TOKEN_BYTES)
#define KEY_PREFIX CT_SESSION_KEY_PREFIX
#define INFO_LEN (sizeof CT_SESSION_INFO_PREFIX - 1 + 2 * crypto_hash_sha256_BYTES)
#define KEY_LEN (sizeof KEY_PREFIX - 1 + 2 * crypto_hash_sha256_BYTES)
#define CSRF_HEADER "X-CSRF-Token"

static const char *const role_names[] = {"none", "viewer", "orderer", "admin"};

int ct_role_parse(const char *s, ct_role_t *out)
{
    if (!s || !out)
        return CT_EINPUT;
    for (int r = CT_ROLE_VIEWER; r <= CT_ROLE_ADMIN; r++) {
        if (strcmp(s, role_names[r]) == 0) {
            *out = (ct_role_t)r;
            return 0;
        }
    }
    return CT_EINPUT;
}

const char *ct_role_name(ct_role_t role)
{
    if (role < CT_ROLE_NONE || role > CT_ROLE_ADMIN)
        return "none";
    return role_names[role];
}

ct_role_t ct_session_role(const ct_session_t *s, const char *customer_id)
{
    if (!s || !customer_id)
        return CT_ROLE_NONE;
    size_t n = s->ngrants < CT_SESSION_MAX_GRANTS ? s->ngrants : CT_SESSION_MAX_GRANTS;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(s->grants[i].customer_id, customer_id) == 0)
            return s->grants[i].role;
    return CT_ROLE_NONE;
}

static bool is_hex(const char *s, size_t len)
{
    if (!s || strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static void session_key(const char *token, char out[KEY_LEN + 1])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
    memcpy(out, KEY_PREFIX, sizeof KEY_PREFIX - 1);
    sodium_bin2hex(out + sizeof KEY_PREFIX - 1, KEY_LEN + 1 - (sizeof KEY_PREFIX - 1), digest,
                   sizeof digest);
}

/* ---- create ---- */

typedef struct {
    ct_session_created_cb cb;
    void *udata;
    char token[TOKEN_HEX + 1];
    ct_session_t s;
} create_ctx_t;

static void create_ctx_free(create_ctx_t *ctx)
{
    sodium_memzero(ctx, sizeof *ctx);
    free(ctx);
}

static void on_created(int status, redisReply *reply, void *udata)
{
    create_ctx_t *ctx = udata;
    if (status == 0 && reply->type == REDIS_REPLY_ERROR) {
        ct_log_error("session: Redis refused SET: %s", reply->str);
        status = CT_EUNAVAIL;
    }
    if (status != 0)
        ctx->cb(status, NULL, NULL, ctx->udata);
    else
        ctx->cb(0, ctx->token, &ctx->s, ctx->udata);
    create_ctx_free(ctx);
}

static json_t *session_json(const ct_session_t *s)
{
    json_t *grants = json_array();
    if (!grants)
        return NULL;
    for (size_t i = 0; i < s->ngrants; i++)
        json_array_append_new(grants,
                              json_pack("{s:s, s:s}", "customer_id", s->grants[i].customer_id,
                                        "role", ct_role_name(s->grants[i].role)));
    return json_pack("{s:s, s:s, s:o, s:I}", "user_id", s->user_id, "csrf", s->csrf, "grants",
                     grants, "created_at", (json_int_t)ct_now_ms());
}

int ct_session_create(ct_cache_t *cache, ct_session_t *s, unsigned ttl_s, ct_session_created_cb cb,
                      void *udata)
{
    if (!s || !cb || ttl_s == 0)
        return CT_EINPUT;
    if (!cache)
        return CT_EUNAVAIL;
    if (!ct_uuid_valid(s->user_id) || s->ngrants > CT_SESSION_MAX_GRANTS)
        return CT_EINPUT;
    for (size_t i = 0; i < s->ngrants; i++)
        if (!ct_uuid_valid(s->grants[i].customer_id) || s->grants[i].role < CT_ROLE_VIEWER ||
            s->grants[i].role > CT_ROLE_ADMIN)
            return CT_EINPUT;

    create_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return -ENOMEM;
    ctx->cb = cb;
    ctx->udata = udata;
    ct_random_hex(ctx->token, TOKEN_BYTES);
    ct_random_hex(s->csrf, TOKEN_BYTES);
    ctx->s = *s;

    json_t *j = session_json(s);
    char *value = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!value) {
        create_ctx_free(ctx);
        return -ENOMEM;
    }
    char key[KEY_LEN + 1];
    session_key(ctx->token, key);
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%u", ttl_s);
    const char *argv[] = {"SET", key, value, "EX", ttl};
    int rc = ct_cache_command_argv(cache, on_created, ctx, 5, argv, NULL);
    sodium_memzero(value, strlen(value));
    free(value);
    if (rc < 0) {
        create_ctx_free(ctx);
        return rc;
    }
    return 0;
}

void ct_session_set_cookies(ct_http_req_t *req, const char *token, const ct_session_t *s,
                            unsigned ttl_s)
{
    /* both are ours, but a header must never carry anything else */
    if (!req || !s || !is_hex(token, TOKEN_HEX) || !is_hex(s->csrf, TOKEN_HEX)) {
        ct_log_error("session: refusing to set cookies from a malformed token or csrf");
        return;
    }
    char cookie[256];
    snprintf(cookie, sizeof cookie,
             CT_SESSION_COOKIE "=%s; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=%u", token,
             ttl_s);
    ct_http_add_header(req, "Set-Cookie", cookie);
    snprintf(cookie, sizeof cookie,
             CT_SESSION_CSRF_COOKIE "=%s; Path=/; Secure; SameSite=Lax; Max-Age=%u", s->csrf,
             ttl_s);
    ct_http_add_header(req, "Set-Cookie", cookie);
    sodium_memzero(cookie, sizeof cookie);
}

/* ---- lookup ---- */

/* The slide, in one script so that a session revoked meanwhile is not
 * brought back. KEYS: session, info. ARGV: now (ms), idle and touch interval
 * (ms) for an info hash that lacks them. A session without info (expires_at)
 * keeps its TTL; the TTL is never shortened (an older session slid with the
 * default idle while accounts had given it more). */
static const char touch_lua[] =
    "local f = redis.call('HMGET', KEYS[2], 'expires_at', 'last_seen', 'idle_ms', 'touch_ms')\n"
    "local exp = tonumber(f[1] or '0') or 0\n"
    "if exp == 0 then return 0 end\n"
    "local now = tonumber(ARGV[1])\n"
    "local last = tonumber(f[2] or '0') or 0\n"
    "if now - last < (tonumber(f[4] or ARGV[3]) or 0) then return 0 end\n"
    "local pttl = redis.call('PTTL', KEYS[1])\n"
    "if pttl < 0 then return 0 end\n"
    "local ttl = math.min(tonumber(f[3] or ARGV[2]) or 0, exp - now)\n"
    "if exp - now <= 0 then redis.call('DEL', KEYS[1], KEYS[2]) return 0 end\n"
    "if ttl < pttl then ttl = pttl end\n"
    "redis.call('HSET', KEYS[2], 'last_seen', ARGV[1])\n"
    "redis.call('PEXPIRE', KEYS[1], ttl)\n"
    "redis.call('PEXPIRE', KEYS[2], ttl)\n"
    "return 1\n";

typedef struct {
    ct_session_cb cb;
    void *udata;
    ct_cache_t *cache;
    char key[KEY_LEN + 1];
    bool needs_csrf;
    char csrf[TOKEN_HEX + 1]; /* the X-CSRF-Token header */
    char cid[64];
    ct_session_t s;
} lookup_ctx_t;

static void lookup_done(lookup_ctx_t *ctx, int status)
{
    ctx->cb(status, status == 0 ? &ctx->s : NULL, ctx->udata);
    sodium_memzero(ctx, sizeof *ctx);
    free(ctx);
}

/* Parses a stored record into s; NULL on success, else what is wrong. */
static const char *parse_record(const char *data, size_t len, ct_session_t *s)
{
    json_error_t jerr;
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return "not JSON";
    const char *why = NULL;
    json_t *user = json_object_get(j, "user_id");
    json_t *csrf = json_object_get(j, "csrf");
    json_t *grants = json_object_get(j, "grants");
    json_t *created = json_object_get(j, "created_at");
    if (!json_is_object(j))
        why = "not an object";
    else if (!json_is_string(user) || !ct_uuid_valid(json_string_value(user)))
        why = "user_id is not a UUID";
    else if (!json_is_string(csrf) || !is_hex(json_string_value(csrf), TOKEN_HEX))
        why = "csrf is not 64 hex digits";
    else if (!json_is_array(grants) || json_array_size(grants) > CT_SESSION_MAX_GRANTS)
        why = "grants is not an array of at most 32 grants";
    else if (!json_is_integer(created))
        why = "created_at is not an integer";
    if (why) {
        json_decref(j);
        return why;
    }
    memset(s, 0, sizeof *s);
    memcpy(s->user_id, json_string_value(user), CT_UUID_STRLEN + 1);
    memcpy(s->csrf, json_string_value(csrf), TOKEN_HEX + 1);
    size_t i;
    json_t *g;
    json_array_foreach(grants, i, g)
    {
        const char *cust = json_string_value(json_object_get(g, "customer_id"));
        const char *role = json_string_value(json_object_get(g, "role"));
        ct_session_grant_t *out = &s->grants[s->ngrants];
        if (!json_is_object(g) || !ct_uuid_valid(cust) || ct_role_parse(role, &out->role) != 0) {
            why = "a grant lacks a customer UUID or a known role";
            break;
        }
        memcpy(out->customer_id, cust, CT_UUID_STRLEN + 1);
        s->ngrants++;
    }
    json_decref(j);
    return why;
}

static void on_touched(int status, redisReply *reply, void *udata)
{
    (void)udata;
    if (status == 0 && reply->type == REDIS_REPLY_ERROR)
        ct_log_warn("session: Redis refused the idle slide: %s", reply->str);
}

/* Fire and forget: the request goes on whatever happens to the slide. */
static void touch(lookup_ctx_t *ctx)
{
    char info[INFO_LEN + 1], now[24], idle[24], interval[24];
    snprintf(info, sizeof info, CT_SESSION_INFO_PREFIX "%s", ctx->key + sizeof KEY_PREFIX - 1);
    snprintf(now, sizeof now, "%lld", (long long)ct_now_ms());
    snprintf(idle, sizeof idle, "%lu", CT_SESSION_IDLE_DEFAULT_MS);
    snprintf(interval, sizeof interval, "%lu", CT_SESSION_TOUCH_DEFAULT_MS);
    const char *argv[] = {"EVAL", touch_lua, "2", ctx->key, info, now, idle, interval};
    if (ct_cache_command_argv(ctx->cache, on_touched, NULL, 8, argv, NULL) < 0)
        ct_logc_warn(ctx->cid, "session: the idle slide could not be sent");
}

static void on_found(int status, redisReply *reply, void *udata)
{
    lookup_ctx_t *ctx = udata;
    if (status != 0) {
        lookup_done(ctx, CT_EUNAVAIL);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        ct_logc_warn(ctx->cid, "session lookup: Redis error: %s", reply->str);
        lookup_done(ctx, CT_EUNAVAIL);
        return;
    }
    if (reply->type == REDIS_REPLY_NIL) {
        lookup_done(ctx, CT_EUNAUTH); /* unknown or expired */
        return;
    }
    if (reply->type != REDIS_REPLY_STRING) {
        ct_logc_warn(ctx->cid, "session lookup: unexpected Redis reply type %d", reply->type);
        lookup_done(ctx, CT_EUNAUTH);
        return;
    }
    const char *why = parse_record(reply->str, reply->len, &ctx->s);
    if (why) {
        ct_logc_warn(ctx->cid, "stored session is malformed (%s): treated as signed out", why);
        lookup_done(ctx, CT_EUNAUTH);
        return;
    }
    if (ctx->needs_csrf && (strlen(ctx->csrf) != strlen(ctx->s.csrf) ||
                            sodium_memcmp(ctx->csrf, ctx->s.csrf, strlen(ctx->s.csrf)) != 0)) {
        ct_logc_info(ctx->cid, "write refused: X-CSRF-Token does not match the session");
        lookup_done(ctx, CT_EUNAUTH);
        return;
    }
    touch(ctx);
    lookup_done(ctx, 0);
}

static bool is_safe_method(const char *m)
{
    return m && (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0);
}

void ct_session_lookup(ct_cache_t *cache, ct_http_req_t *req, ct_session_cb cb, void *udata)
{
    if (!cb)
        return;
    if (!req) {
        cb(CT_EUNAUTH, NULL, udata);
        return;
    }
    const char *token = ct_http_cookie(req, CT_SESSION_COOKIE);
    if (!is_hex(token, TOKEN_HEX)) {
        cb(CT_EUNAUTH, NULL, udata); /* none, or not one we could have issued */
        return;
    }
    bool needs_csrf = !is_safe_method(ct_http_method(req));
    const char *hdr = needs_csrf ? ct_http_header(req, CSRF_HEADER) : NULL;
    if (needs_csrf && (!hdr || strlen(hdr) > TOKEN_HEX)) {
        cb(CT_EUNAUTH, NULL, udata); /* a write without a plausible CSRF token */
        return;
    }
    if (!cache) {
        cb(CT_EUNAVAIL, NULL, udata);
        return;
    }
    lookup_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        cb(CT_EUNAVAIL, NULL, udata);
        return;
    }
    ctx->cb = cb;
    ctx->udata = udata;
    ctx->cache = cache;
    ctx->needs_csrf = needs_csrf;
    if (hdr)
        memcpy(ctx->csrf, hdr, strlen(hdr) + 1);
    const char *cid = ct_http_request_id(req);
    snprintf(ctx->cid, sizeof ctx->cid, "%s", cid ? cid : "");

    session_key(token, ctx->key);
    const char *argv[] = {"GET", ctx->key};
    int rc = ct_cache_command_argv(cache, on_found, ctx, 2, argv, NULL);
    if (rc < 0)
        lookup_done(ctx, CT_EUNAVAIL);
}
