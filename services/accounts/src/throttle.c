/* Login throttling (see throttle.h). */
#include "throttle.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "citerne/error.h"
#include "citerne/id.h"
#include "citerne/log.h"

/* KEYS: address count, address block, account attempts (sorted set).
 * ARGV: now ms, addr_free, addr_max_delay_s, addr_memory_s, account_limit,
 * account_window ms, member. Returns {verdict, address wait ms}. */
static const char begin_lua[] =
    "local pttl = redis.call('PTTL', KEYS[2])\n"
    "if pttl > 0 then return {1, pttl} end\n"
    "local now = tonumber(ARGV[1])\n"
    "local n = redis.call('INCR', KEYS[1])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[4])\n"
    "local free = tonumber(ARGV[2])\n"
    "if n >= free then\n"
    "  local d = math.min(2 ^ (n - free), tonumber(ARGV[3]))\n"
    "  redis.call('SET', KEYS[2], '1', 'PX', math.floor(d * 1000))\n"
    "end\n"
    "local window = tonumber(ARGV[6])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)\n"
    "if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[5]) then return {2, 0} end\n"
    "redis.call('ZADD', KEYS[3], now, ARGV[7])\n"
    "redis.call('PEXPIRE', KEYS[3], window)\n"
    "return {0, 0}\n";

/* KEYS as above; ARGV: member, addr_free. Takes back the attempt's own count
 * and lifts the address's wait when what is left does not call for one. */
static const char success_lua[] = "local n = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
                                  "if n > 0 then n = redis.call('DECR', KEYS[1]) end\n"
                                  "if n < tonumber(ARGV[2]) then redis.call('DEL', KEYS[2]) end\n"
                                  "redis.call('ZREM', KEYS[3], ARGV[1])\n"
                                  "return n\n";

static void on_begun(int status, redisReply *reply, void *udata)
{
    accounts_throttle_t *t = udata;
    if (status != 0 || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[1]->type != REDIS_REPLY_INTEGER) {
        if (status == 0 && reply && reply->type == REDIS_REPLY_ERROR)
            ct_log_error("login throttle: Redis refused the script: %s", reply->str);
        t->cb(CT_EUNAVAIL, ACCOUNTS_THROTTLE_GO, 0, t->udata);
        return;
    }
    long long verdict = reply->element[0]->integer;
    long long wait_ms = reply->element[1]->integer;
    if (verdict == 1)
        t->cb(0, ACCOUNTS_THROTTLE_ADDR_WAIT, (unsigned)((wait_ms + 999) / 1000), t->udata);
    else if (verdict == 2)
        t->cb(0, ACCOUNTS_THROTTLE_ACCOUNT_FULL, 0, t->udata);
    else
        t->cb(0, ACCOUNTS_THROTTLE_GO, 0, t->udata);
}

/* prefix then the hex SHA-256 of text: keys hold no e-mail address. */
static void hashed_key(char out[96], const char *prefix, const char *text)
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)text, strlen(text));
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    snprintf(out, 96, "%s%s", prefix, hex);
}

int accounts_throttle_begin(ct_cache_t *cache, const accounts_throttle_opts_t *o,
                            accounts_throttle_t *t, const char *addr, const char *account,
                            accounts_throttle_cb cb, void *udata)
{
    memset(t, 0, sizeof *t);
    t->cb = cb;
    t->udata = udata;
    snprintf(t->addr_count, sizeof t->addr_count, "acct:login:addr:%s", addr);
    snprintf(t->addr_block, sizeof t->addr_block, "acct:login:addr-wait:%s", addr);
    hashed_key(t->account, "acct:login:account:", account);
    ct_random_hex(t->member, 16);

    char now[24], free_[16], max_delay[16], memory[16], limit[16], window[24];
    snprintf(now, sizeof now, "%lld", (long long)ct_now_ms());
    snprintf(free_, sizeof free_, "%u", o->addr_free);
    snprintf(max_delay, sizeof max_delay, "%u", o->addr_max_delay_s);
    snprintf(memory, sizeof memory, "%u", o->addr_memory_s);
    snprintf(limit, sizeof limit, "%u", o->account_limit);
    snprintf(window, sizeof window, "%llu", 1000ULL * o->account_window_s);
    const char *argv[] = {"EVAL", begin_lua, "3",    t->addr_count, t->addr_block, t->account, now,
                          free_,  max_delay, memory, limit,         window,        t->member};
    int rc = ct_cache_command_argv(cache, on_begun, t, 13, argv, NULL);
    return rc < 0 ? CT_EUNAVAIL : 0;
}

static void on_ignored(int status, redisReply *reply, void *udata)
{
    (void)udata;
    if (status == 0 && reply && reply->type == REDIS_REPLY_ERROR)
        ct_log_warn("throttle: cannot give an attempt back: %s", reply->str);
}

void accounts_throttle_succeeded(ct_cache_t *cache, const accounts_throttle_opts_t *o,
                                 const accounts_throttle_t *t)
{
    char free_[16];
    snprintf(free_, sizeof free_, "%u", o->addr_free);
    const char *argv[] = {"EVAL",        success_lua, "3",       t->addr_count,
                          t->addr_block, t->account,  t->member, free_};
    (void)ct_cache_command_argv(cache, on_ignored, NULL, 8, argv, NULL);
}

/* KEYS: the sorted set. ARGV: now ms, limit, window ms, member. Returns
 * {1, 0} when the use is taken, {0, ms until the oldest use leaves the
 * window} when refused. */
static const char quota_lua[] =
    "local now = tonumber(ARGV[1])\n"
    "local window = tonumber(ARGV[3])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)\n"
    "if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then\n"
    "  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')\n"
    "  return {0, math.max(0, tonumber(oldest[2]) + window - now)}\n"
    "end\n"
    "redis.call('ZADD', KEYS[1], now, ARGV[4])\n"
    "redis.call('PEXPIRE', KEYS[1], window)\n"
    "return {1, 0}\n";

static void on_quota(int status, redisReply *reply, void *udata)
{
    accounts_quota_t *q = udata;
    if (status != 0 || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[1]->type != REDIS_REPLY_INTEGER) {
        if (status == 0 && reply && reply->type == REDIS_REPLY_ERROR)
            ct_log_error("quota: Redis refused the script: %s", reply->str);
        q->cb(CT_EUNAVAIL, false, q->udata);
        return;
    }
    bool allowed = reply->element[0]->integer == 1;
    q->retry_after_s = allowed ? 0 : (unsigned)((reply->element[1]->integer + 999) / 1000);
    if (!allowed && q->retry_after_s == 0)
        q->retry_after_s = 1;
    q->cb(0, allowed, q->udata);
}

int accounts_quota_take(ct_cache_t *cache, accounts_quota_t *q, const char *prefix,
                        const char *text, unsigned limit, unsigned window_s, accounts_quota_cb cb,
                        void *udata)
{
    memset(q, 0, sizeof *q);
    q->cb = cb;
    q->udata = udata;
    char now[24], lim[16], window[24];
    hashed_key(q->key, prefix, text);
    snprintf(now, sizeof now, "%lld", (long long)ct_now_ms());
    snprintf(lim, sizeof lim, "%u", limit);
    snprintf(window, sizeof window, "%llu", 1000ULL * window_s);
    ct_random_hex(q->member, 16);
    const char *argv[] = {"EVAL", quota_lua, "1", q->key, now, lim, window, q->member};
    return ct_cache_command_argv(cache, on_quota, q, 8, argv, NULL) < 0 ? CT_EUNAVAIL : 0;
}

void accounts_quota_give_back(ct_cache_t *cache, const accounts_quota_t *q)
{
    const char *argv[] = {"ZREM", q->key, q->member};
    (void)ct_cache_command_argv(cache, on_ignored, NULL, 3, argv, NULL);
}
