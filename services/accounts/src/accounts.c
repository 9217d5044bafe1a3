/* The accounts service's settings, state and routes (see accounts.h). */
#include "accounts.h"

#include <string.h>

#include "citerne/error.h"
#include "citerne/log.h"
#include "password.h"
#include "totp.h"

#define EIGHT_HOURS_S (8 * 3600)

void accounts_settings_read(ct_config_t *cfg, accounts_settings_t *out)
{
    memset(out, 0, sizeof *out);
    ct_auth_key_config(&out->operator_key, cfg, "CITERNE_OPERATOR_KEY", true);
    out->session_ttl_s =
        (unsigned)ct_config_int(cfg, "CITERNE_SESSION_TTL_S", EIGHT_HOURS_S, 60, 30L * 86400);
    out->session_idle_s =
        (unsigned)ct_config_int(cfg, "CITERNE_SESSION_IDLE_S", 1800, 60, 30L * 86400);
    out->pwhash_ops = (unsigned long long)ct_config_int(cfg, "CITERNE_PWHASH_OPS",
                                                        (long)crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                                        (long)crypto_pwhash_OPSLIMIT_MIN, 64);
    out->pwhash_mem =
        (size_t)ct_config_int(cfg, "CITERNE_PWHASH_MEM", (long)crypto_pwhash_MEMLIMIT_INTERACTIVE,
                              (long)crypto_pwhash_MEMLIMIT_MIN, 1L << 30);
    out->secret_key = ct_config_str(cfg, "CITERNE_ACCOUNTS_SECRET_KEY", "");
    unsigned char key[crypto_secretbox_KEYBYTES];
    if (out->secret_key[0] && accounts_secret_key_parse(out->secret_key, key) != 0)
        ct_config_fail(cfg, "CITERNE_ACCOUNTS_SECRET_KEY: expected 64 hexadecimal digits"
                            " (32 random bytes), value not shown");
    sodium_memzero(key, sizeof key);
    if (!out->secret_key[0])
        out->secret_key = NULL;
    out->public_url = ct_config_str(cfg, "CITERNE_PUBLIC_URL", "http://127.0.0.1:8080");
    if (strncmp(out->public_url, "https://", 8) != 0 && strncmp(out->public_url, "http://", 7) != 0)
        ct_config_fail(cfg, "CITERNE_PUBLIC_URL: expected an http(s):// URL, got \"%s\"",
                       out->public_url);
    out->reset_ttl_s = (unsigned)ct_config_int(cfg, "CITERNE_RESET_TTL_S", 1800, 300, 86400);
    out->activation_ttl_s =
        (unsigned)ct_config_int(cfg, "CITERNE_ACTIVATION_TTL_S", 86400, 300, 7L * 86400);
    out->email_change_ttl_s =
        (unsigned)ct_config_int(cfg, "CITERNE_EMAIL_CHANGE_TTL_S", 1800, 300, 86400);
    out->phone_code_ttl_s = (unsigned)ct_config_int(cfg, "CITERNE_PHONE_CODE_TTL_S", 600, 60, 3600);
    out->sweep_interval_s =
        (unsigned)ct_config_int(cfg, "CITERNE_ACCOUNTS_SWEEP_S", 3600, 60, 7L * 86400);
    out->pending_keep_days =
        (unsigned)ct_config_int(cfg, "CITERNE_ACCOUNTS_PENDING_DAYS", 30, 1, 3650);
    out->trusted_proxies = ct_config_str(cfg, "CITERNE_TRUSTED_PROXY", "");
    out->throttle.addr_free = (unsigned)ct_config_int(cfg, "CITERNE_LOGIN_ADDR_FREE", 5, 1, 1000);
    out->throttle.addr_max_delay_s =
        (unsigned)ct_config_int(cfg, "CITERNE_LOGIN_ADDR_MAX_DELAY_S", 900, 1, 86400);
    out->throttle.addr_memory_s =
        (unsigned)ct_config_int(cfg, "CITERNE_LOGIN_ADDR_MEMORY_S", 3600, 60, 7L * 86400);
    out->throttle.account_limit =
        (unsigned)ct_config_int(cfg, "CITERNE_LOGIN_ACCOUNT_LIMIT", 100, 1, 100000);
    out->throttle.account_window_s =
        (unsigned)ct_config_int(cfg, "CITERNE_LOGIN_ACCOUNT_WINDOW_S", 3600, 60, 86400);
    out->proof_invoice_months =
        (unsigned)ct_config_int(cfg, "CITERNE_PROOF_INVOICE_MONTHS", 24, 1, 120);
    out->proof_invoice_failures =
        (unsigned)ct_config_int(cfg, "CITERNE_PROOF_INVOICE_FAILURES", 10, 1, 1000);
    out->proof_invoice_window_s =
        (unsigned)ct_config_int(cfg, "CITERNE_PROOF_INVOICE_WINDOW_S", 86400, 3600, 30L * 86400);
}

int accounts_init(accounts_t *a, ct_service_t *svc, const accounts_settings_t *settings)
{
    memset(a, 0, sizeof *a);
    if (sodium_init() < 0) {
        ct_log_error("libsodium cannot initialise");
        return CT_EINTERNAL;
    }
    a->svc = svc;
    a->session_ttl_s = settings->session_ttl_s;
    a->sessions.ttl_s = settings->session_ttl_s;
    a->sessions.idle_s =
        settings->session_idle_s ? settings->session_idle_s : settings->session_ttl_s;
    a->sessions.touch_interval_ms = 60000;
    a->pwhash_ops = settings->pwhash_ops;
    a->pwhash_mem = settings->pwhash_mem;
    a->trusted_proxies = settings->trusted_proxies ? settings->trusted_proxies : "";
    a->throttle = settings->throttle;
    a->mfa_ttl_s = 300;
    a->public_url = settings->public_url ? settings->public_url : "http://127.0.0.1:8080";
    a->reset_ttl_s = settings->reset_ttl_s ? settings->reset_ttl_s : 1800;
    a->activation_ttl_s = settings->activation_ttl_s ? settings->activation_ttl_s : 86400;
    a->email_change_ttl_s = settings->email_change_ttl_s ? settings->email_change_ttl_s : 1800;
    a->phone_code_ttl_s = settings->phone_code_ttl_s ? settings->phone_code_ttl_s : 600;
    a->proof_invoice_months = settings->proof_invoice_months ? settings->proof_invoice_months : 24;
    a->proof_invoice_failures =
        settings->proof_invoice_failures ? settings->proof_invoice_failures : 10;
    a->proof_invoice_window_s =
        settings->proof_invoice_window_s ? settings->proof_invoice_window_s : 86400;
    a->sweeper.interval_s = settings->sweep_interval_s ? settings->sweep_interval_s : 3600;
    a->sweeper.keep_days = settings->pending_keep_days ? (int)settings->pending_keep_days : 30;
    if (accounts_common_passwords_load() != 0) {
        ct_log_error("cannot load the list of common passwords");
        return CT_EINTERNAL;
    }
    if (settings->secret_key)
        a->have_secret_key = accounts_secret_key_parse(settings->secret_key, a->secret_key) == 0;
    if (!a->have_secret_key)
        ct_log_warn("CITERNE_ACCOUNTS_SECRET_KEY is not set: two-factor authentication cannot"
                    " be turned on, and phone codes are hashed with a key of this process only");
    /* a subkey of its own, so the code hashes never use the sealing key */
    if (a->have_secret_key)
        crypto_kdf_derive_from_key(a->phone_code_key, sizeof a->phone_code_key, 1, "phonecod",
                                   a->secret_key);
    else
        randombytes_buf(a->phone_code_key, sizeof a->phone_code_key);
    if (accounts_totp_init() != 0) {
        ct_log_error("liboath cannot initialise");
        return CT_EINTERNAL;
    }
    a->operator_key = settings->operator_key;

    /* Same parameters as real hashes, so a miss costs what a hit costs. */
    char dummy[33];
    ct_random_hex(dummy, 16);
    int rc = crypto_pwhash_str(a->dummy_hash, dummy, strlen(dummy), a->pwhash_ops, a->pwhash_mem);
    sodium_memzero(dummy, sizeof dummy);
    if (rc != 0) {
        ct_log_error("cannot compute the dummy password hash (CITERNE_PWHASH_MEM too large?)");
        return CT_EINTERNAL;
    }
    return 0;
}

int accounts_routes(accounts_t *a, ct_http_server_t *srv)
{
    static const struct {
        const char *method;
        const char *pattern;
        ct_http_handler_cb cb;
    } routes[] = {
        {"POST", "/api/v1/accounts/customers", accounts_api_customer_create},
        {"GET", "/api/v1/accounts/customers/{id}", accounts_api_customer_get},
        {"POST", "/api/v1/accounts/contracts", accounts_api_contract_create},
        {"POST", "/api/v1/accounts/sites", accounts_api_site_create},
        {"PATCH", "/api/v1/accounts/customers/{id}", accounts_api_customer_update},
        {"PATCH", "/api/v1/accounts/contracts/{id}", accounts_api_contract_update},
        {"PATCH", "/api/v1/accounts/sites/{id}", accounts_api_site_update},
        {"POST", "/api/v1/accounts/users", accounts_api_user_create},
        {"PATCH", "/api/v1/accounts/users/{id}", accounts_api_user_update},
        {"POST", "/api/v1/accounts/import", accounts_api_import},
        {"POST", "/api/v1/accounts/users/{id}/2fa/disable", accounts_api_totp_operator_disable},
        {"POST", "/api/v1/accounts/login", accounts_api_login},
        {"POST", "/api/v1/accounts/login/totp", accounts_api_login_totp},
        {"POST", "/api/v1/accounts/2fa/totp/enrol", accounts_api_totp_enrol},
        {"POST", "/api/v1/accounts/2fa/totp/confirm", accounts_api_totp_confirm},
        {"POST", "/api/v1/accounts/2fa/totp/disable", accounts_api_totp_disable},
        {"POST", "/api/v1/accounts/logout", accounts_api_logout},
        {"POST", "/api/v1/accounts/password/forgot", accounts_api_password_forgot},
        {"POST", "/api/v1/accounts/password/reset", accounts_api_password_reset},
        {"GET", "/api/v1/accounts/customers/{id}/collaborators", accounts_api_collaborators_list},
        {"POST", "/api/v1/accounts/customers/{id}/collaborators", accounts_api_collaborator_invite},
        {"PATCH", "/api/v1/accounts/customers/{id}/collaborators/{user_id}",
         accounts_api_collaborator_update},
        {"DELETE", "/api/v1/accounts/customers/{id}/collaborators/{user_id}",
         accounts_api_collaborator_remove},
        {"GET", "/api/v1/accounts/customers/{id}/audit", accounts_api_audit_list},
        {"GET", "/api/v1/accounts/customers/{id}/audit.csv", accounts_api_audit_csv},
        {"POST", "/api/v1/accounts/me/customers", accounts_api_customer_link},
        {"GET", "/api/v1/accounts/me/invitations", accounts_api_invitations_list},
        {"POST", "/api/v1/accounts/me/invitations/{id}/accept", accounts_api_invitation_accept},
        {"POST", "/api/v1/accounts/me/invitations/{id}/decline", accounts_api_invitation_decline},
        {"GET", "/api/v1/accounts/me/profile", accounts_api_profile_get},
        {"GET", "/api/v1/accounts/me/export", accounts_api_me_export},
        {"POST", "/api/v1/accounts/me/password", accounts_api_password_change},
        {"POST", "/api/v1/accounts/me/close", accounts_api_me_close},
        {"POST", "/api/v1/accounts/me/email", accounts_api_email_change},
        {"POST", "/api/v1/accounts/me/email/confirm", accounts_api_email_confirm},
        {"PATCH", "/api/v1/accounts/me/profile", accounts_api_profile_update},
        {"POST", "/api/v1/accounts/me/phone/verify", accounts_api_phone_verify},
        {"POST", "/api/v1/accounts/me/phone/resend", accounts_api_phone_resend},
        {"POST", "/api/v1/accounts/signup", accounts_api_signup},
        {"POST", "/api/v1/accounts/signup/resend", accounts_api_signup_resend},
        {"POST", "/api/v1/accounts/signup/activate", accounts_api_signup_activate},
        {"GET", "/api/v1/accounts/me", accounts_api_me},
        {"GET", "/api/v1/accounts/sessions", accounts_api_sessions_list},
        {"POST", "/api/v1/accounts/sessions/revoke-others", accounts_api_sessions_revoke_others},
        {"DELETE", "/api/v1/accounts/sessions/{id}", accounts_api_session_revoke},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = ct_http_route(srv, routes[i].method, routes[i].pattern, routes[i].cb, a);
        if (rc != 0)
            return rc;
    }
    return 0;
}
