/* The pending second step of a login (see mfa.h). */
#include "mfa.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "citerne/error.h"
#include "citerne/log.h"

static const char take_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return false end\n"
    "if redis.call('HINCRBY', KEYS[1], 'tries', -1) < 0 then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  return false\n"
    "end\n"
    "return redis.call('HMGET', KEYS[1], 'user_id', 'addr_count', 'addr_block', 'account',"
    " 'member')\n";

static void mfa_key(char out[96], const char *token)
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    snprintf(out, 96, "acct:mfa:%s", hex);
}

typedef struct {
    accounts_mfa_created_cb created;
    accounts_mfa_taken_cb taken;
    void *udata;
    char token[ACCOUNTS_MFA_TOKEN_LEN + 1];
} mfa_ctx_t;

static void ctx_free(mfa_ctx_t *ctx)
{
    sodium_memzero(ctx, sizeof *ctx);
    free(ctx);
}

static void on_created(int status, redisReply *reply, void *udata)
{
    mfa_ctx_t *ctx = udata;
    if (status == 0 && reply->type == REDIS_REPLY_ERROR) {
        ct_log_error("mfa: Redis refused: %s", reply->str);
        status = CT_EUNAVAIL;
    }
    ctx->created(status ? CT_EUNAVAIL : 0, status ? NULL : ctx->token, ctx->udata);
    ctx_free(ctx);
}

int accounts_mfa_create(ct_cache_t *cache, const char *user_id, const accounts_throttle_t *t,
                        unsigned ttl_s, accounts_mfa_created_cb cb, void *udata)
{
    if (!cache)
        return CT_EUNAVAIL;
    mfa_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return -ENOMEM;
    ctx->created = cb;
    ctx->udata = udata;
    ct_random_hex(ctx->token, ACCOUNTS_MFA_TOKEN_LEN / 2);
    char key[96], ttl[16], tries[8];
    mfa_key(key, ctx->token);
    snprintf(ttl, sizeof ttl, "%u", ttl_s);
    snprintf(tries, sizeof tries, "%d", ACCOUNTS_MFA_TRIES);
    /* MULTI is not needed: one script sets and expires */
    static const char lua[] = "redis.call('HSET', KEYS[1], 'user_id', ARGV[1], 'addr_count',"
                              " ARGV[2], 'addr_block', ARGV[3], 'account', ARGV[4], 'member',"
                              " ARGV[5], 'tries', ARGV[6])\n"
                              "redis.call('EXPIRE', KEYS[1], ARGV[7])\n"
                              "return 1\n";
    const char *argv[] = {"EVAL",        lua,        "1",       key,   user_id, t->addr_count,
                          t->addr_block, t->account, t->member, tries, ttl};
    if (ct_cache_command_argv(cache, on_created, ctx, 11, argv, NULL) < 0) {
        ctx_free(ctx);
        return CT_EUNAVAIL;
    }
    return 0;
}

static void copy_field(char *out, size_t outlen, const redisReply *r)
{
    snprintf(out, outlen, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
}

static void on_taken(int status, redisReply *reply, void *udata)
{
    mfa_ctx_t *ctx = udata;
    if (status != 0 || reply->type == REDIS_REPLY_ERROR) {
        if (status == 0)
            ct_log_error("mfa: Redis refused: %s", reply->str);
        ctx->taken(CT_EUNAVAIL, false, NULL, NULL, ctx->udata);
    } else if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 5 ||
               reply->element[0]->type != REDIS_REPLY_STRING ||
               !ct_uuid_valid(reply->element[0]->str)) {
        ctx->taken(0, false, NULL, NULL, ctx->udata);
    } else {
        accounts_throttle_t t;
        memset(&t, 0, sizeof t);
        copy_field(t.addr_count, sizeof t.addr_count, reply->element[1]);
        copy_field(t.addr_block, sizeof t.addr_block, reply->element[2]);
        copy_field(t.account, sizeof t.account, reply->element[3]);
        copy_field(t.member, sizeof t.member, reply->element[4]);
        ctx->taken(0, true, reply->element[0]->str, &t, ctx->udata);
    }
    ctx_free(ctx);
}

int accounts_mfa_take(ct_cache_t *cache, const char *token, accounts_mfa_taken_cb cb, void *udata)
{
    if (!cache)
        return CT_EUNAVAIL;
    mfa_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return -ENOMEM;
    ctx->taken = cb;
    ctx->udata = udata;
    char key[96];
    mfa_key(key, token);
    const char *argv[] = {"EVAL", take_lua, "1", key};
    if (ct_cache_command_argv(cache, on_taken, ctx, 4, argv, NULL) < 0) {
        ctx_free(ctx);
        return CT_EUNAVAIL;
    }
    return 0;
}

static void on_ended(int status, redisReply *reply, void *udata)
{
    (void)udata;
    if (status == 0 && reply->type == REDIS_REPLY_ERROR)
        ct_log_warn("mfa: cannot end a token: %s", reply->str);
}

void accounts_mfa_end(ct_cache_t *cache, const char *token)
{
    char key[96];
    mfa_key(key, token);
    const char *argv[] = {"DEL", key};
    (void)ct_cache_command_argv(cache, on_ended, NULL, 2, argv, NULL);
}
