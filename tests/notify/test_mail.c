/* E-mail composition: headers, RFC 2047 subjects, quoted-printable bodies,
 * recipient checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "mail.h"

static void ascii_subject_is_left_as_is(void **state)
{
    (void)state;
    char *s = notify_mail_encode_words("Facture FA2026-000001");
    assert_string_equal(s, "Facture FA2026-000001");
    free(s);
}

static void utf8_subject_becomes_base64_encoded_words(void **state)
{
    (void)state;
    char *s = notify_mail_encode_words("Livraison prévue");
    /* base64 of "Livraison prévue" */
    assert_string_equal(s, "=?UTF-8?B?TGl2cmFpc29uIHByw6l2dWU=?=");
    free(s);
}

/* Decodes the words of an encoded header back to the text. */
static char *decode_words(const char *enc)
{
    char *out = calloc(1, strlen(enc) + 1);
    size_t olen = 0;
    const char *p = enc;
    while ((p = strstr(p, "=?UTF-8?B?")) != NULL) {
        p += 10;
        const char *e = strstr(p, "?=");
        assert_non_null(e);
        size_t bin_len = 0;
        assert_int_equal(sodium_base642bin((unsigned char *)out + olen, strlen(enc) - olen, p,
                                           (size_t)(e - p), NULL, &bin_len, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        olen += bin_len;
        p = e + 2;
    }
    out[olen] = '\0';
    return out;
}

static void long_subjects_fold_into_words_of_at_most_75_without_cutting_characters(void **state)
{
    (void)state;
    const char *subject = "Livraison prévue le mercredi 25 novembre 2026 : 1 200 kg de propane "
                          "éééééééééééééééééééééééé";
    char *s = notify_mail_encode_words(subject);
    /* every word is short, words are separated by CRLF SP */
    const char *p = s;
    int words = 0;
    while (*p) {
        const char *e = strstr(p, "\r\n ");
        size_t n = e ? (size_t)(e - p) : strlen(p);
        assert_true(n <= 75);
        assert_memory_equal(p, "=?UTF-8?B?", 10);
        words++;
        p += n + (e ? 3 : 0);
    }
    assert_true(words >= 3);
    /* each word decodes to whole UTF-8 characters and they join to the subject */
    char *back = decode_words(s);
    assert_string_equal(back, subject);
    free(back);
    free(s);
}

static void body_is_quoted_printable_with_crlf(void **state)
{
    (void)state;
    char *qp = notify_mail_qp_encode("Bonjour,\n\nMontant TTC\xc2\xa0: 1 234,56 €\n=fin \n.\n");
    assert_string_equal(qp, "Bonjour,\r\n\r\nMontant TTC=C2=A0: 1 234,56 =E2=82=AC\r\n=3Dfin=20"
                            "\r\n=2E\r\n");
    free(qp);
}

static void long_body_lines_get_soft_breaks_within_76_characters(void **state)
{
    (void)state;
    char text[400];
    memset(text, 'a', 200);
    memcpy(text + 200, "ééééééééééééééééééééééééééééééééééééééééééééééééééééé\n", 107);
    text[307] = '\0';
    char *qp = notify_mail_qp_encode(text);
    const char *p = qp;
    while (*p) {
        const char *e = strstr(p, "\r\n");
        assert_non_null(e);
        assert_true(e - p <= 76);
        p = e + 2;
    }
    /* soft breaks removed, the text comes back */
    char *joined = calloc(1, strlen(qp) + 1);
    size_t j = 0;
    for (const char *q = qp; *q;) {
        if (q[0] == '=' && q[1] == '\r') {
            q += 3;
        } else if (q[0] == '=') {
            char hex[3] = {q[1], q[2], 0};
            joined[j++] = (char)strtol(hex, NULL, 16);
            q += 3;
        } else if (q[0] == '\r') {
            joined[j++] = '\n';
            q += 2;
        } else {
            joined[j++] = *q++;
        }
    }
    assert_string_equal(joined, text);
    free(joined);
    free(qp);
}

static void message_has_every_header_and_the_encoded_body(void **state)
{
    (void)state;
    notify_mail_t m = {
        .from = "Citerne <no-reply@citerne.invalid>",
        .to = "marie@example.com",
        .subject = "Livraison prévue",
        .body = "Bonjour,\nà bientôt\n",
        .date_ms = 1795329600000, /* 2026-11-22T06:40:00Z */
        .message_id = "0190c1d2-0000-7000-8000-000000000001",
    };
    size_t len = 0;
    char *msg = notify_mail_build(&m, &len);
    assert_non_null(msg);
    assert_int_equal(len, strlen(msg));
    assert_string_equal(msg,
                        "From: Citerne <no-reply@citerne.invalid>\r\n"
                        "To: <marie@example.com>\r\n"
                        "Subject: =?UTF-8?B?TGl2cmFpc29uIHByw6l2dWU=?=\r\n"
                        "Date: Sun, 22 Nov 2026 06:40:00 +0000\r\n"
                        "Message-ID: <0190c1d2-0000-7000-8000-000000000001@citerne.invalid>\r\n"
                        "MIME-Version: 1.0\r\n"
                        "Content-Type: text/plain; charset=UTF-8\r\n"
                        "Content-Transfer-Encoding: quoted-printable\r\n"
                        "Auto-Submitted: auto-generated\r\n"
                        "\r\n"
                        "Bonjour,\r\n=C3=A0 bient=C3=B4t\r\n");
    free(msg);
}

static void sender_names_with_accents_are_encoded(void **state)
{
    (void)state;
    notify_mail_t m = {.from = "Citerne Énergie <contact@example.com>",
                       .to = "a@b.fr",
                       .subject = "x",
                       .body = "y\n",
                       .date_ms = 0,
                       .message_id = "id"};
    char *msg = notify_mail_build(&m, NULL);
    assert_non_null(msg);
    assert_non_null(
        strstr(msg, "From: =?UTF-8?B?Q2l0ZXJuZSDDiW5lcmdpZQ==?= <contact@example.com>\r\n"));
    assert_non_null(strstr(msg, "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"));
    free(msg);
    m.from = "no address";
    assert_null(notify_mail_build(&m, NULL));
}

static void envelope_address_is_taken_from_the_from_setting(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(notify_mail_address("Citerne <no-reply@citerne.invalid>", out, sizeof out), 0);
    assert_string_equal(out, "no-reply@citerne.invalid");
    assert_int_equal(notify_mail_address(" ops@example.com ", out, sizeof out), 0);
    assert_string_equal(out, "ops@example.com");
    assert_int_equal(notify_mail_address("Citerne <broken", out, sizeof out), -1);
    assert_int_equal(notify_mail_address("", out, sizeof out), -1);
}

static void only_plain_addresses_are_accepted_as_recipients(void **state)
{
    (void)state;
    const char *good[] = {"marie@example.com", "a.b+tag@sub.example.fr", "x@localhost",
                          "o'brien@example.ie"};
    const char *bad[] = {"",
                         "@example.com",
                         "marie@",
                         "marie",
                         "a@@b.fr",
                         "a b@c.fr",
                         "a@b..fr",
                         ".a@b.fr",
                         "a.@b.fr",
                         "a@b.fr\r\nBcc: x@y.z",
                         "a@b.fr>",
                         "<a@b.fr>",
                         "élise@example.com",
                         "a@-b.fr",
                         "a..b@c.fr",
                         NULL};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!notify_email_valid(good[i]))
            fail_msg("%s refused", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (notify_email_valid(bad[i]))
            fail_msg("%s accepted", bad[i]);
}

static void phones_are_e164(void **state)
{
    (void)state;
    assert_true(notify_phone_valid("+33612345678"));
    assert_true(notify_phone_valid("+4412345678"));
    assert_false(notify_phone_valid("0612345678"));
    assert_false(notify_phone_valid("+0612345678"));
    assert_false(notify_phone_valid("+33 6 12 34 56 78"));
    assert_false(notify_phone_valid("+1234567"));
    assert_false(notify_phone_valid("+1234567890123456"));
    assert_false(notify_phone_valid(""));
    assert_false(notify_phone_valid(NULL));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ascii_subject_is_left_as_is),
        cmocka_unit_test(utf8_subject_becomes_base64_encoded_words),
        cmocka_unit_test(long_subjects_fold_into_words_of_at_most_75_without_cutting_characters),
        cmocka_unit_test(body_is_quoted_printable_with_crlf),
        cmocka_unit_test(long_body_lines_get_soft_breaks_within_76_characters),
        cmocka_unit_test(message_has_every_header_and_the_encoded_body),
        cmocka_unit_test(sender_names_with_accents_are_encoded),
        cmocka_unit_test(envelope_address_is_taken_from_the_from_setting),
        cmocka_unit_test(only_plain_addresses_are_accepted_as_recipients),
        cmocka_unit_test(phones_are_e164),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
