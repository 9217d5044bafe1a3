/* The users' sessions in Redis (see sessions.h). */
#include "sessions.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "citerne/error.h"
#include "citerne/id.h"
#include "citerne/log.h"

#define TOKEN_BYTES 32

/* KEYS: session, info, user set. ARGV: record, ttl ms, h, now, expires_at,
 * device, user_agent, addr, absolute ttl ms, idle ms, touch interval ms.
 * idle_ms and touch_ms are what the platform's lookup slides by. */
static const char create_lua[] =
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "redis.call('HSET', KEYS[2], 'created_at', ARGV[4], 'last_seen', ARGV[4],"
    " 'expires_at', ARGV[5], 'device', ARGV[6], 'user_agent', ARGV[7], 'addr', ARGV[8],"
    " 'idle_ms', ARGV[10], 'touch_ms', ARGV[11])\n"
    "redis.call('PEXPIRE', KEYS[2], ARGV[2])\n"
    "redis.call('SADD', KEYS[3], ARGV[3])\n"
    "if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[9]) then\n"
    "  redis.call('PEXPIRE', KEYS[3], ARGV[9])\n"
    "end\n"
    "return 1\n";

/* KEYS: user set. Live sessions as {h, created, last_seen, expires, device,
 * user_agent, addr}; members whose session is gone are dropped. */
static const char list_lua[] =
    "local out = {}\n"
    "for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
    "  if redis.call('EXISTS', 'ct:session:' .. h) == 1 then\n"
    "    local i = redis.call('HMGET', 'acct:session-info:' .. h, 'created_at', 'last_seen',"
    " 'expires_at', 'device', 'user_agent', 'addr')\n"
    "    table.insert(out, {h, i[1] or '0', i[2] or '0', i[3] or '0', i[4] or '', i[5] or '',"
    " i[6] or ''})\n"
    "  else\n"
    "    redis.call('SREM', KEYS[1], h)\n"
    "  end\n"
    "end\n"
    "return out\n";

/* KEYS: user set. ARGV: mode ("one" or "all"), h (the one to revoke, or the
 * one to keep; "" for none). Returns how many were revoked. */
static const char revoke_lua[] =
    "local n = 0\n"
    "local function revoke(h)\n"
    "  n = n + redis.call('DEL', 'ct:session:' .. h)\n"
    "  redis.call('DEL', 'acct:session-info:' .. h)\n"
    "  redis.call('SREM', KEYS[1], h)\n"
    "end\n"
    "if ARGV[1] == 'one' then\n"
    "  if redis.call('SISMEMBER', KEYS[1], ARGV[2]) == 1 then revoke(ARGV[2]) end\n"
    "else\n"
    "  for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
    "    if h ~= ARGV[2] then revoke(h) end\n"
    "  end\n"
    "end\n"
    "return n\n";

void accounts_session_hash(const char *token, char out[ACCOUNTS_SESSION_HASH_LEN + 1])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(out, ACCOUNTS_SESSION_HASH_LEN + 1, digest, sizeof digest);
}

static void user_set_key(char out[64], const char *user_id)
{
    snprintf(out, 64, "acct:user-sessions:%s", user_id);
}

/* Printable ASCII only, at most outlen - 1 bytes: a User-Agent is outside
 * input and ends up in JSON. */
static void printable(char *out, size_t outlen, const char *in)
{
    size_t n = 0;
    for (; in && *in && n + 1 < outlen; in++)
        if (*in >= 0x20 && *in < 0x7f)
            out[n++] = *in;
    out[n] = '\0';
}

/* ---- create ---- */

typedef struct {
    accounts_session_created_cb cb;
    void *udata;
    char token[2 * TOKEN_BYTES + 1];
} create_ctx_t;

static void on_created(int status, redisReply *reply, void *udata)
{
    create_ctx_t *ctx = udata;
    if (status == 0 && reply->type == REDIS_REPLY_ERROR) {
        ct_log_error("session: Redis refused the create script: %s", reply->str);
        status = CT_EUNAVAIL;
    }
    ctx->cb(status != 0 ? CT_EUNAVAIL : 0, status != 0 ? NULL : ctx->token, ctx->udata);
    sodium_memzero(ctx, sizeof *ctx);
    free(ctx);
}

static char *record_json(const ct_session_t *s, int64_t now)
{
    json_t *grants = json_array();
    for (size_t i = 0; grants && i < s->ngrants; i++)
        json_array_append_new(grants,
                              json_pack("{s:s, s:s}", "customer_id", s->grants[i].customer_id,
                                        "role", ct_role_name(s->grants[i].role)));
    json_t *j = json_pack("{s:s, s:s, s:o, s:I}", "user_id", s->user_id, "csrf", s->csrf, "grants",
                          grants, "created_at", (json_int_t)now);
    char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return out;
}

int accounts_session_create(ct_cache_t *cache, const accounts_session_opts_t *o, ct_session_t *s,
                            const char *user_agent, const char *addr,
                            accounts_session_created_cb cb, void *udata)
{
    if (!cache)
        return CT_EUNAVAIL;
    if (!ct_uuid_valid(s->user_id) || s->ngrants > CT_SESSION_MAX_GRANTS)
        return CT_EINPUT;
    create_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return -ENOMEM;
    ctx->cb = cb;
    ctx->udata = udata;
    ct_random_hex(ctx->token, TOKEN_BYTES);
    ct_random_hex(s->csrf, TOKEN_BYTES);

    int64_t now = ct_now_ms();
    char *record = record_json(s, now);
    if (!record) {
        free(ctx);
        return -ENOMEM;
    }
    char h[ACCOUNTS_SESSION_HASH_LEN + 1], key[96], info[96], set[64];
    accounts_session_hash(ctx->token, h);
    snprintf(key, sizeof key, CT_SESSION_KEY_PREFIX "%s", h);
    snprintf(info, sizeof info, CT_SESSION_INFO_PREFIX "%s", h);
    user_set_key(set, s->user_id);
    unsigned long long abs_ms = 1000ULL * o->ttl_s;
    unsigned long long ttl_ms = o->idle_s < o->ttl_s ? 1000ULL * o->idle_s : abs_ms;
    char ttl[24], now_s[24], exp[24], abs[24], idle[24], every[24], device[64], ua[201],
        where[ACCOUNTS_ADDR_MAX];
    snprintf(ttl, sizeof ttl, "%llu", ttl_ms);
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    snprintf(exp, sizeof exp, "%lld", (long long)now + (long long)abs_ms);
    snprintf(abs, sizeof abs, "%llu", abs_ms);
    snprintf(idle, sizeof idle, "%llu", 1000ULL * o->idle_s);
    snprintf(every, sizeof every, "%lu", o->touch_interval_ms);
    accounts_device_label(user_agent, device);
    printable(ua, sizeof ua, user_agent);
    printable(where, sizeof where, addr);
    const char *argv[] = {"EVAL", create_lua, "3",    key, info,  set, record, ttl,  h,
                          now_s,  exp,        device, ua,  where, abs, idle,   every};
    int rc = ct_cache_command_argv(cache, on_created, ctx, 17, argv, NULL);
    sodium_memzero(record, strlen(record));
    free(record);
    if (rc < 0) {
        sodium_memzero(ctx, sizeof *ctx);
        free(ctx);
        return CT_EUNAVAIL;
    }
    return 0;
}

/* ---- list ---- */

typedef struct {
    accounts_session_list_cb cb;
    void *udata;
} list_ctx_t;

static int64_t field_ms(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
}

static void field_str(char *out, size_t outlen, const redisReply *r)
{
    printable(out, outlen, r->type == REDIS_REPLY_STRING ? r->str : "");
}

static int newest_first(const void *a, const void *b)
{
    const accounts_session_info_t *x = a, *y = b;
    return (x->created_at < y->created_at) - (x->created_at > y->created_at);
}

static void on_listed(int status, redisReply *reply, void *udata)
{
    list_ctx_t *ctx = udata;
    if (status != 0 || reply->type != REDIS_REPLY_ARRAY) {
        if (status == 0 && reply->type == REDIS_REPLY_ERROR)
            ct_log_error("session: Redis refused the list script: %s", reply->str);
        ctx->cb(CT_EUNAVAIL, NULL, 0, ctx->udata);
        free(ctx);
        return;
    }
    accounts_session_info_t *infos = calloc(reply->elements + 1, sizeof *infos);
    size_t n = 0;
    for (size_t i = 0; infos && i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 7 ||
            e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[0]->len != ACCOUNTS_SESSION_HASH_LEN)
            continue;
        accounts_session_info_t *out = &infos[n++];
        memcpy(out->id, e->element[0]->str, ACCOUNTS_SESSION_HASH_LEN + 1);
        out->created_at = field_ms(e->element[1]);
        out->last_seen = field_ms(e->element[2]);
        out->expires_at = field_ms(e->element[3]);
        field_str(out->device, sizeof out->device, e->element[4]);
        field_str(out->user_agent, sizeof out->user_agent, e->element[5]);
        field_str(out->addr, sizeof out->addr, e->element[6]);
    }
    if (!infos) {
        ctx->cb(-ENOMEM, NULL, 0, ctx->udata);
    } else {
        qsort(infos, n, sizeof *infos, newest_first);
        ctx->cb(0, infos, n, ctx->udata);
    }
    free(infos);
    free(ctx);
}

int accounts_sessions_list(ct_cache_t *cache, const char *user_id, accounts_session_list_cb cb,
                           void *udata)
{
    if (!cache)
        return CT_EUNAVAIL;
    list_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return -ENOMEM;
    ctx->cb = cb;
    ctx->udata = udata;
    char set[64];
    user_set_key(set, user_id);
    const char *argv[] = {"EVAL", list_lua, "1", set};
    if (ct_cache_command_argv(cache, on_listed, ctx, 4, argv, NULL) < 0) {
        free(ctx);
        return CT_EUNAVAIL;
    }
    return 0;
}

/* ---- revoke ---- */

typedef struct {
    accounts_session_revoked_cb cb;
    void *udata;
} revoke_ctx_t;

static void on_revoked(int status, redisReply *reply, void *udata)
{
    revoke_ctx_t *ctx = udata;
    if (status != 0 || reply->type != REDIS_REPLY_INTEGER) {
        if (status == 0 && reply->type == REDIS_REPLY_ERROR)
            ct_log_error("session: Redis refused the revoke script: %s", reply->str);
        ctx->cb(CT_EUNAVAIL, 0, ctx->udata);
    } else {
        ctx->cb(0, reply->integer, ctx->udata);
    }
    free(ctx);
}

static int revoke(ct_cache_t *cache, const char *user_id, const char *mode, const char *h,
                  accounts_session_revoked_cb cb, void *udata)
{
    if (!cache)
        return CT_EUNAVAIL;
    revoke_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return -ENOMEM;
    ctx->cb = cb;
    ctx->udata = udata;
    char set[64];
    user_set_key(set, user_id);
    const char *argv[] = {"EVAL", revoke_lua, "1", set, mode, h ? h : ""};
    if (ct_cache_command_argv(cache, on_revoked, ctx, 6, argv, NULL) < 0) {
        free(ctx);
        return CT_EUNAVAIL;
    }
    return 0;
}

int accounts_session_revoke(ct_cache_t *cache, const char *user_id, const char *id,
                            accounts_session_revoked_cb cb, void *udata)
{
    return revoke(cache, user_id, "one", id, cb, udata);
}

int accounts_sessions_revoke_all(ct_cache_t *cache, const char *user_id, const char *keep_id,
                                 accounts_session_revoked_cb cb, void *udata)
{
    return revoke(cache, user_id, "all", keep_id, cb, udata);
}
