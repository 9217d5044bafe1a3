/* The French texts of every notification kind and channel, and the formats
 * of amounts, quantities and dates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "templates.h"

#define NBSP "\xc2\xa0"
#define NNBSP "\xe2\x80\xaf"

static void amounts_are_grouped_by_thousands_with_a_decimal_comma(void **state)
{
    (void)state;
    struct {
        int64_t cents;
        const char *typo, *plain;
    } t[] = {
        {123456, "1" NNBSP "234,56" NBSP "€", "1 234,56 €"},
        {0, "0,00" NBSP "€", "0,00 €"},
        {5, "0,05" NBSP "€", "0,05 €"},
        {99999, "999,99" NBSP "€", "999,99 €"},
        {100000, "1" NNBSP "000,00" NBSP "€", "1 000,00 €"},
        {123456789, "1" NNBSP "234" NNBSP "567,89" NBSP "€", "1 234 567,89 €"},
        {-1050, "-10,50" NBSP "€", "-10,50 €"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char out[64];
        assert_true(notify_format_amount(t[i].cents, NOTIFY_STYLE_TYPOGRAPHIC, out, sizeof out) >
                    0);
        assert_string_equal(out, t[i].typo);
        assert_true(notify_format_amount(t[i].cents, NOTIFY_STYLE_PLAIN, out, sizeof out) > 0);
        assert_string_equal(out, t[i].plain);
    }
    char small[6];
    assert_int_equal(notify_format_amount(123456, NOTIFY_STYLE_PLAIN, small, sizeof small), -1);
}

static void quantities_are_grouped_and_end_in_kg(void **state)
{
    (void)state;
    char out[32];
    notify_format_kg(1200, NOTIFY_STYLE_PLAIN, out, sizeof out);
    assert_string_equal(out, "1 200 kg");
    notify_format_kg(480, NOTIFY_STYLE_TYPOGRAPHIC, out, sizeof out);
    assert_string_equal(out, "480" NBSP "kg");
    notify_format_kg(12000, NOTIFY_STYLE_TYPOGRAPHIC, out, sizeof out);
    assert_string_equal(out, "12" NNBSP "000" NBSP "kg");
}

static void dates_are_written_in_french_with_the_weekday(void **state)
{
    (void)state;
    struct {
        const char *ymd, *with, *without;
    } t[] = {
        {"2026-11-24", "mardi 24 novembre 2026", "24 novembre 2026"},
        {"2026-12-01", "mardi 1er décembre 2026", "1er décembre 2026"},
        {"2027-08-15", "dimanche 15 août 2027", "15 août 2027"},
        {"2026-02-02", "lundi 2 février 2026", "2 février 2026"},
        {"2028-02-29", "mardi 29 février 2028", "29 février 2028"},
        {"2026-11-28", "samedi 28 novembre 2026", "28 novembre 2026"},
        {"2026-11-27", "vendredi 27 novembre 2026", "27 novembre 2026"},
        {"2026-11-26", "jeudi 26 novembre 2026", "26 novembre 2026"},
        {"2026-11-25", "mercredi 25 novembre 2026", "25 novembre 2026"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char out[64];
        assert_true(notify_format_date(t[i].ymd, true, out, sizeof out) > 0);
        assert_string_equal(out, t[i].with);
        assert_true(notify_format_date(t[i].ymd, false, out, sizeof out) > 0);
        assert_string_equal(out, t[i].without);
    }
    char out[64];
    assert_int_equal(notify_format_date("2026-02-29", true, out, sizeof out), -1);
    assert_int_equal(notify_format_date("2026-11-24T10:00", true, out, sizeof out), -1);
    assert_int_equal(notify_format_date(NULL, true, out, sizeof out), -1);
    assert_false(notify_date_valid("2026-13-01"));
    assert_true(notify_date_valid("2026-01-31"));
}

typedef struct {
    const char *name;
    notify_facts_t facts;
    const char *subject;
    const char *email;
    const char *sms;
} text_case_t;

#define SIGNATURE "\n-- \nCiterne, votre fournisseur de propane\nNuméro client" NBSP ": C-0042\n"

static const text_case_t texts[] = {
    {
        "order_proposed_on_demand",
        {.kind = NOTIFY_KIND_ORDER_PROPOSED,
         .user_name = "Marie Dupont",
         .customer_number = "C-0042",
         .automatic = false,
         .speed = "standard",
         .quantity_kg = 1200},
        "Commande de propane à confirmer" NBSP ": 1" NNBSP "200" NBSP "kg",
        "Bonjour Marie Dupont,\n\nNous vous proposons une livraison de 1" NNBSP "200" NBSP
        "kg de propane (livraison sous 15 jours).\nPour la recevoir, confirmez dans votre "
        "espace client.\n" SIGNATURE,
        "Citerne : nous vous proposons une livraison de 1 200 kg de propane (sous 15 jours). "
        "Pour la recevoir, confirmez dans votre espace client.",
    },
    {
        "order_proposed_automatic",
        {.kind = NOTIFY_KIND_ORDER_PROPOSED,
         .user_name = "Marie Dupont",
         .customer_number = "C-0042",
         .automatic = true,
         .speed = "standard",
         .quantity_kg = 500},
        "Livraison automatique planifiée" NBSP ": 500" NBSP "kg",
        "Bonjour Marie Dupont,\n\nLivraison automatique planifiée" NBSP ": nous livrerons "
        "500" NBSP "kg de propane dans votre citerne.\nVous n'avez rien à faire, nous vous "
        "indiquerons la date de passage.\n" SIGNATURE,
        "Citerne : livraison automatique planifiée de 500 kg de propane. Vous n'avez rien à "
        "faire.",
    },
    {
        "delivery_scheduled",
        {.kind = NOTIFY_KIND_DELIVERY_SCHEDULED,
         .user_name = "Marie Dupont",
         .customer_number = "C-0042",
         .quantity_kg = 500,
         .delivery_date = "2026-11-24"},
        "Livraison prévue le mardi 24 novembre 2026",
        "Bonjour Marie Dupont,\n\nVotre livraison de 500" NBSP "kg de propane est prévue le "
        "mardi 24 novembre 2026.\nMerci de laisser l'accès à votre citerne dégagé.\n" SIGNATURE,
        "Citerne : livraison de 500 kg de propane prévue le mardi 24 novembre 2026.",
    },
    {
        "delivery_confirmed",
        {.kind = NOTIFY_KIND_DELIVERY_CONFIRMED,
         .user_name = "Marie Dupont",
         .customer_number = "C-0042",
         .delivered_kg = 487,
         .delivery_date = "2026-11-24"},
        "Livraison effectuée" NBSP ": 487" NBSP "kg de propane",
        "Bonjour Marie Dupont,\n\nNous avons livré 487" NBSP "kg de propane le mardi 24 "
        "novembre 2026.\nVotre facture suivra.\n" SIGNATURE,
        "Citerne : 487 kg de propane livrés le mardi 24 novembre 2026. Votre facture suivra.",
    },
    {
        "invoice_issued",
        {.kind = NOTIFY_KIND_INVOICE_ISSUED,
         .user_name = "Marie Dupont",
         .customer_number = "C-0042",
         .invoice_number = "FA2026-000001",
         .total_incl_cents = 123456,
         .issue_date = "2026-11-25"},
        "Facture FA2026-000001" NBSP ": 1" NNBSP "234,56" NBSP "€",
        "Bonjour Marie Dupont,\n\nVotre facture FA2026-000001 du 25 novembre 2026 est "
        "disponible dans votre espace client.\nMontant TTC" NBSP ": 1" NNBSP "234,56" NBSP
        "€\n" SIGNATURE,
        "Citerne : facture FA2026-000001 du 25 novembre 2026 disponible dans votre espace "
        "client. Montant TTC : 1 234,56 €.",
    },
    {
        "order_held",
        {.kind = NOTIFY_KIND_ORDER_HELD, .user_name = "Marie Dupont", .customer_number = "C-0042"},
        "Livraison en attente de votre certificat de conformité",
        "Bonjour Marie Dupont,\n\nVotre livraison de propane est en attente" NBSP ": la "
        "réglementation interdit une première livraison de gaz sans le certificat de conformité "
        "de votre installation, et nous ne l'avons pas encore reçu.\nEnvoyez-le à notre service "
        "client, rempli, signé et daté, avec le cachet de l'installateur et le visa de Qualigaz. "
        "Si vous avez acheté une maison équipée d'une citerne, envoyez celui que le notaire vous "
        "a remis lors de la vente.\nDès sa réception, nous planifierons la livraison sans autre "
        "démarche de votre part, et vous en indiquerons la date.\n" SIGNATURE,
        "Citerne : votre livraison de propane attend le certificat de conformité de votre "
        "installation, obligatoire pour une première livraison. Envoyez-le à notre service "
        "client : nous planifierons la livraison dès sa réception.",
    },
};

/* 2026-11-24 09:30 UTC: 10 h 30 in Paris (winter time). */
#define T_NOV 1795512600000LL
#define AT_NOV "mardi 24 novembre 2026 à 10" NBSP "h" NBSP "30"
#define LINK "https://portail.example/reset-password#token=Zm9vYmFyYmF6"
#define SIGN "\n-- \nCiterne, votre fournisseur de propane\n"
#define NOT_YOU                                                                                    \
    "Si ce n'est pas vous, changez votre mot de passe tout de suite («" NBSP                       \
    "Mot de passe oublié" NBSP "» sur la page de connexion) et contactez notre service client.\n"

typedef struct {
    const char *name;
    notify_facts_t facts;
    const char *subject;
    const char *email;
} account_case_t;

static const account_case_t account_texts[] = {
    {
        "password_reset_requested",
        {.kind = NOTIFY_KIND_PASSWORD_RESET,
         .user_name = "Marie Dupont",
         .link = LINK,
         .expires_at = T_NOV},
        "Réinitialisation de votre mot de passe Citerne",
        "Bonjour Marie Dupont,\n\nVous avez demandé à réinitialiser le mot de passe de votre "
        "compte Citerne.\nPour choisir un nouveau mot de passe, ouvrez ce lien" NBSP ":\n" LINK
        "\n\nCe lien ne sert qu'une fois et expire le " AT_NOV ".\nUne nouvelle demande le "
        "remplace.\nSi vous n'avez rien demandé, ignorez ce message" NBSP ": votre mot de passe "
        "ne change pas.\n" SIGN,
    },
    {
        "activation_requested",
        {.kind = NOTIFY_KIND_ACTIVATION,
         .user_name = "Marie Dupont",
         .link = "https://portail.example/activate#token=YWJj",
         .expires_at = T_NOV},
        "Activez votre compte Citerne",
        "Bonjour Marie Dupont,\n\nPour activer votre compte Citerne et choisir votre mot de "
        "passe, ouvrez ce lien" NBSP ":\nhttps://portail.example/activate#token=YWJj\n\nCe lien "
        "ne sert qu'une fois et expire le " AT_NOV ".\nVous pourrez en demander un nouveau "
        "depuis la page d'inscription.\nSi vous n'êtes pas à l'origine de cette inscription, "
        "ignorez ce message.\n" SIGN,
    },
    {
        "collaborator_invited",
        {.kind = NOTIFY_KIND_COLLABORATOR_INVITED,
         .user_name = "",
         .customer_name = "Famille Dupont",
         .customer_number = "C-0042",
         .role = "orderer",
         .link = "https://portail.example/activate#token=YWJj",
         .expires_at = T_NOV},
        "Invitation à l'espace client de Famille Dupont (client C-0042)",
        "Bonjour,\n\nVous avez reçu une invitation à l'espace client Citerne de Famille Dupont "
        "(client C-0042), avec le rôle «" NBSP "commandes" NBSP "».\nPour créer votre compte et "
        "choisir votre mot de passe, ouvrez ce lien" NBSP ":\nhttps://portail.example/"
        "activate#token=YWJj\n\nCe lien ne sert qu'une fois et expire le " AT_NOV ".\nSi vous "
        "ne connaissez pas ce client, ignorez ce message.\n" SIGN,
    },
    {
        "password_changed_by_reset",
        {.kind = NOTIFY_KIND_PASSWORD_CHANGED,
         .user_name = "Marie Dupont",
         .via_reset = true,
         .at = T_NOV},
        "Votre mot de passe Citerne a été changé",
        "Bonjour Marie Dupont,\n\nLe mot de passe de votre compte Citerne a été changé le " AT_NOV
        " à l'aide d'un lien de réinitialisation.\nToutes vos sessions ont été fermées.\n" NOT_YOU
            SIGN,
    },
    {
        "password_changed_signed_in",
        {.kind = NOTIFY_KIND_PASSWORD_CHANGED, .user_name = "Marie Dupont", .at = T_NOV},
        "Votre mot de passe Citerne a été changé",
        "Bonjour Marie Dupont,\n\nLe mot de passe de votre compte Citerne a été changé le " AT_NOV
        ".\nVos autres sessions ont été fermées.\n" NOT_YOU SIGN,
    },
    {
        "totp_disabled",
        {.kind = NOTIFY_KIND_TOTP_DISABLED,
         .user_name = "Marie Dupont",
         .with_recovery_code = true,
         .at = T_NOV},
        "Double authentification désactivée sur votre compte Citerne",
        "Bonjour Marie Dupont,\n\nLa double authentification de votre compte Citerne a été "
        "désactivée le " AT_NOV ", avec un code de secours.\nVotre compte n'est plus protégé que "
        "par votre mot de passe" NBSP ": nous vous conseillons de la réactiver dans votre espace "
        "client.\n" NOT_YOU SIGN,
    },
    {
        "new_device_signed_in",
        {.kind = NOTIFY_KIND_NEW_DEVICE,
         .user_name = "Marie Dupont",
         .device = "Firefox on Linux",
         .address = "203.0.113.7",
         .at = T_NOV},
        "Nouvelle connexion à votre compte Citerne",
        "Bonjour Marie Dupont,\n\nQuelqu'un s'est connecté à votre compte Citerne depuis un "
        "appareil inconnu" NBSP ":\n- appareil" NBSP ": Firefox on Linux\n- adresse" NBSP
        ": 203.0.113.7\n- le " AT_NOV "\nSi c'est vous, vous n'avez rien à faire.\nSinon, fermez "
        "cette session dans votre espace client (Sessions), changez votre mot de passe tout de "
        "suite et contactez notre service client.\n" SIGN,
    },
    {
        "customer_linked",
        {.kind = NOTIFY_KIND_CUSTOMER_LINKED,
         .user_name = "Marie Dupont",
         .customer_name = "SARL Martin",
         .customer_number = "C-0043",
         .role = "admin",
         .at = T_NOV},
        "Nouveau contrat rattaché à votre compte Citerne",
        "Bonjour Marie Dupont,\n\nL'espace client de SARL Martin (client C-0043) a été rattaché "
        "à votre compte Citerne le " AT_NOV ", avec le rôle «" NBSP "administrateur" NBSP
        "».\n" NOT_YOU SIGN,
    },
    {
        "customer_linked_admin",
        {.kind = NOTIFY_KIND_CUSTOMER_LINKED_ADMIN,
         .user_name = "Paul Martin",
         .customer_name = "Famille Dupont",
         .customer_number = "C-0042",
         .role = "viewer",
         .at = T_NOV,
         .linked_name = "Léa Girard",
         .linked_email = "lea@example.com"},
        "Nouvel utilisateur de l'espace client de Famille Dupont (client C-0042)",
        "Bonjour Paul Martin,\n\nUn nouvel utilisateur, Léa Girard (lea@example.com), a "
        "désormais accès à l'espace client de Famille Dupont (client C-0042), avec le rôle "
        "«" NBSP "consultation" NBSP "», depuis le " AT_NOV ". Il l'a rattaché à son compte "
        "avec le numéro de client et un numéro de facture.\nSi vous ne le connaissez pas, "
        "retirez-le dans la page Collaborateurs de votre espace client et contactez notre "
        "service client.\n" SIGN,
    },
    {
        "customer_linked_admin without the newcomer's name",
        {.kind = NOTIFY_KIND_CUSTOMER_LINKED_ADMIN,
         .user_name = "",
         .customer_name = "",
         .customer_number = "C-0042",
         .role = "viewer",
         .at = T_NOV,
         .linked_name = "",
         .linked_email = "lea@example.com"},
        "Nouvel utilisateur de l'espace client du client C-0042",
        "Bonjour,\n\nUn nouvel utilisateur (lea@example.com) a désormais accès à l'espace "
        "client du client C-0042, avec le rôle «" NBSP "consultation" NBSP "», depuis le " AT_NOV
        ". Il l'a rattaché à son compte avec le numéro de client et un numéro de facture.\nSi "
        "vous ne le connaissez pas, retirez-le dans la page Collaborateurs de votre espace client "
        "et contactez notre service client.\n" SIGN,
    },
    {
        "urgent_delivery_ordered, to an admin",
        {.kind = NOTIFY_KIND_URGENT_DELIVERY,
         .user_name = "Paul Martin",
         .customer_name = "Famille Dupont",
         .customer_number = "C-0042",
         .speed = "express_48h",
         .quantity_kg = 1200,
         .delivery_date = "2026-11-24",
         .orderer_name = "Léa Girard",
         .orderer_email = "lea@example.com"},
        "Livraison express commandée pour l'espace client de Famille Dupont (client C-0042)",
        "Bonjour Paul Martin,\n\nLéa Girard (lea@example.com) a commandé, dans l'espace client "
        "de Famille Dupont (client C-0042), une livraison express sous 48 h de 1" NNBSP "200" NBSP
        "kg de propane pour votre site, prévue le mardi 24 novembre 2026.\nLes frais de livraison "
        "express s'appliquent selon notre barème en vigueur, en plus du gaz, et figureront sur la "
        "facture de cette livraison.\nSi vous ne reconnaissez pas cette commande, contactez tout "
        "de suite notre service client, et retirez l'accès de cette personne dans la page "
        "Collaborateurs de votre espace client.\n" SIGN,
    },
    {
        "urgent_delivery_ordered, to the orderer",
        {.kind = NOTIFY_KIND_URGENT_DELIVERY,
         .user_name = "Léa Girard",
         .customer_name = "Famille Dupont",
         .customer_number = "C-0042",
         .speed = "express_24h",
         .quantity_kg = 300,
         .delivery_date = "2026-12-01",
         .orderer_name = "Léa Girard",
         .orderer_email = "lea@example.com",
         .by_self = true},
        "Livraison express commandée pour l'espace client de Famille Dupont (client C-0042)",
        "Bonjour Léa Girard,\n\nVous avez commandé, dans l'espace client de Famille Dupont "
        "(client C-0042), une livraison express sous 24 h de 300" NBSP "kg de propane pour votre "
        "site, prévue le mardi 1er décembre 2026.\nLes frais de livraison express s'appliquent "
        "selon notre barème en vigueur, en plus du gaz, et figureront sur la facture de cette "
        "livraison.\n" NOT_YOU SIGN,
    },
    {
        "urgent_delivery_ordered by a user notify does not know",
        {.kind = NOTIFY_KIND_URGENT_DELIVERY,
         .user_name = "",
         .customer_name = "",
         .customer_number = "C-0042",
         .speed = "express_8d",
         .quantity_kg = 400,
         .delivery_date = "2026-11-24",
         .orderer_name = "",
         .orderer_email = ""},
        "Livraison express commandée pour l'espace client du client C-0042",
        "Bonjour,\n\nUn utilisateur a commandé, dans l'espace client du client C-0042, une "
        "livraison express sous 8 jours de 400" NBSP "kg de propane pour votre site, prévue le "
        "mardi 24 novembre 2026.\nLes frais de livraison express s'appliquent selon notre barème "
        "en vigueur, en plus du gaz, et figureront sur la facture de cette livraison.\nSi vous ne "
        "reconnaissez pas cette commande, contactez tout de suite notre service client, et "
        "retirez l'accès de cette personne dans la page Collaborateurs de votre espace "
        "client.\n" SIGN,
    },
    {
        "collaborator_added",
        {.kind = NOTIFY_KIND_COLLABORATOR_ADDED,
         .user_name = "Paul",
         .customer_name = "Famille Dupont",
         .customer_number = "C-0042",
         .role = "viewer"},
        "Accès à l'espace client de Famille Dupont (client C-0042)",
        "Bonjour Paul,\n\nVous avez désormais accès à l'espace client de Famille Dupont (client "
        "C-0042), avec le rôle «" NBSP "consultation" NBSP "». Il apparaîtra à votre prochaine "
        "connexion.\nSi vous ne connaissez pas ce client, contactez notre service client.\n" SIGN,
    },
    {
        "invitation_received",
        {.kind = NOTIFY_KIND_INVITATION,
         .user_name = "Paul",
         .customer_name = "Famille Dupont",
         .customer_number = "C-0042",
         .role = "viewer",
         .inviter_name = "Marie Dupont",
         .link = "https://portail.example/invitations",
         .expires_at = T_NOV},
        "Invitation à l'espace client de Famille Dupont (client C-0042)",
        "Bonjour Paul,\n\nMarie Dupont vous invite à agir pour l'espace client de Famille Dupont "
        "(client C-0042), avec le rôle «" NBSP "consultation" NBSP "».\nRien ne change tant que "
        "vous n'avez pas accepté" NBSP ": connectez-vous à votre compte Citerne et acceptez ou "
        "refusez l'invitation ici" NBSP ":\nhttps://portail.example/invitations\n\nElle expire "
        "le " AT_NOV ".\nSi vous ne connaissez pas ce client, refusez-la ou ignorez ce "
        "message.\n" SIGN,
    },
    {
        "invitation_received_without_inviter_name",
        {.kind = NOTIFY_KIND_INVITATION,
         .user_name = "",
         .customer_number = "C-0042",
         .role = "admin",
         .inviter_name = "",
         .link = "https://portail.example/invitations",
         .expires_at = T_NOV},
        "Invitation à l'espace client du client C-0042",
        "Bonjour,\n\nUn administrateur vous invite à agir pour l'espace client du client C-0042, "
        "avec le rôle «" NBSP "administrateur" NBSP "».\nRien ne change tant que vous n'avez pas "
        "accepté" NBSP ": connectez-vous à votre compte Citerne et acceptez ou refusez "
        "l'invitation ici" NBSP ":\nhttps://portail.example/invitations\n\nElle expire le " AT_NOV
        ".\nSi vous ne connaissez pas ce client, refusez-la ou ignorez ce message.\n" SIGN,
    },
    {
        "collaborator_removed",
        {.kind = NOTIFY_KIND_COLLABORATOR_REMOVED,
         .user_name = "Paul",
         .customer_name = "Famille Dupont",
         .customer_number = "C-0042"},
        "Fin de votre accès à l'espace client de Famille Dupont (client C-0042)",
        "Bonjour Paul,\n\nVotre accès à l'espace client de Famille Dupont (client C-0042) a été "
        "retiré par un de ses administrateurs.\nSi c'est une erreur, demandez à l'un d'eux de "
        "vous inviter à nouveau.\nVotre compte et vos autres accès ne changent pas.\n" SIGN,
    },
    {
        "collaborator_left",
        {.kind = NOTIFY_KIND_COLLABORATOR_REMOVED,
         .user_name = "Paul",
         .customer_number = "C-0042",
         .by_self = true},
        "Fin de votre accès à l'espace client du client C-0042",
        "Bonjour Paul,\n\nVous avez quitté l'espace client du client C-0042.\nVotre compte et "
        "vos autres accès ne changent pas.\n" SIGN,
    },
    {
        "email_change_confirm",
        {.kind = NOTIFY_KIND_EMAIL_CONFIRM,
         .user_name = "Marie Dupont",
         .new_email = "marie.dupont@example.org",
         .link = "https://portail.example/confirm-email#token=ZW1haWw",
         .expires_at = T_NOV},
        "Confirmez votre nouvelle adresse e-mail Citerne",
        "Bonjour Marie Dupont,\n\nVous avez demandé à vous connecter à votre compte Citerne avec "
        "l'adresse marie.dupont@example.org.\nPour confirmer ce changement, ouvrez ce lien" NBSP
        ":\nhttps://portail.example/confirm-email#token=ZW1haWw\n\nCe lien ne sert qu'une fois "
        "et expire le " AT_NOV ".\nUne nouvelle demande le remplace. Une fois l'adresse "
        "confirmée, toutes vos sessions sont fermées" NBSP ": reconnectez-vous avec cette "
        "adresse.\nSi vous n'avez rien demandé, ignorez ce message" NBSP ": rien ne change.\n" SIGN,
    },
    {
        "email_change_requested",
        {.kind = NOTIFY_KIND_EMAIL_CHANGE_REQUESTED,
         .user_name = "Marie Dupont",
         .new_email = "marie.dupont@example.org",
         .at = T_NOV},
        "Changement d'adresse e-mail demandé sur votre compte Citerne",
        "Bonjour Marie Dupont,\n\nLe " AT_NOV ", quelqu'un connaissant votre mot de passe a "
        "demandé que votre compte Citerne utilise désormais l'adresse marie.dupont@example.org."
        "\nRien ne change tant que le lien envoyé à cette adresse n'a pas été ouvert" NBSP
        ": vous vous connectez toujours avec l'adresse actuelle.\nSi c'est vous, vous n'avez "
        "rien à faire.\n" NOT_YOU SIGN,
    },
    {
        "email_changed",
        {.kind = NOTIFY_KIND_EMAIL_CHANGED,
         .user_name = "Marie Dupont",
         .new_email = "marie.dupont@example.org",
         .at = T_NOV},
        "L'adresse e-mail de votre compte Citerne a été changée",
        "Bonjour Marie Dupont,\n\nLe " AT_NOV ", l'adresse e-mail de votre compte Citerne est "
        "devenue marie.dupont@example.org. Toutes vos sessions ont été fermées.\nNos messages "
        "ne seront plus envoyés à cette adresse-ci.\nSi ce n'est pas vous, contactez tout de "
        "suite notre service client.\n" SIGN,
    },
};

static void every_account_kind_has_its_french_email_and_no_sms(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof account_texts / sizeof account_texts[0]; i++) {
        const account_case_t *t = &account_texts[i];
        notify_message_t m;
        if (notify_render(&t->facts, NOTIFY_CHANNEL_EMAIL, &m) != 0)
            fail_msg("%s: e-mail not rendered", t->name);
        assert_string_equal(m.subject, t->subject);
        assert_string_equal(m.body, t->email);
        if (notify_render(&t->facts, NOTIFY_CHANNEL_SMS, &m) != -1)
            fail_msg("%s: rendered as an SMS", t->name);
        assert_false(notify_kind_has_preference(t->facts.kind));
    }
}

/* Only an express speed is urgent: a standard delivery has no such notice. */
static void an_urgent_delivery_needs_an_express_speed(void **state)
{
    (void)state;
    notify_message_t m;
    notify_facts_t f = {.kind = NOTIFY_KIND_URGENT_DELIVERY,
                        .speed = "standard",
                        .quantity_kg = 400,
                        .delivery_date = "2026-11-24",
                        .orderer_name = "",
                        .orderer_email = ""};
    assert_int_equal(notify_render(&f, NOTIFY_CHANNEL_EMAIL, &m), -1);
    f.speed = "express_48h";
    assert_int_equal(notify_render(&f, NOTIFY_CHANNEL_EMAIL, &m), 0);
    f.delivery_date = "2026-02-30";
    assert_int_equal(notify_render(&f, NOTIFY_CHANNEL_EMAIL, &m), -1);
    assert_false(notify_kind_is_chain(NOTIFY_KIND_URGENT_DELIVERY));
}

static void a_link_message_without_its_link_or_time_renders_nothing(void **state)
{
    (void)state;
    notify_message_t m;
    notify_facts_t no_link = {
        .kind = NOTIFY_KIND_PASSWORD_RESET, .user_name = "", .link = "", .expires_at = T_NOV};
    assert_int_equal(notify_render(&no_link, NOTIFY_CHANNEL_EMAIL, &m), -1);
    notify_facts_t no_time = {.kind = NOTIFY_KIND_ACTIVATION, .user_name = "", .link = LINK};
    assert_int_equal(notify_render(&no_time, NOTIFY_CHANNEL_EMAIL, &m), -1);
    notify_facts_t no_role = {.kind = NOTIFY_KIND_COLLABORATOR_ADDED, .role = "owner"};
    assert_int_equal(notify_render(&no_role, NOTIFY_CHANNEL_EMAIL, &m), -1);
    /* the e-mail change's texts name the new address: none, no text */
    notify_facts_t no_address = {
        .kind = NOTIFY_KIND_EMAIL_CONFIRM, .user_name = "", .link = LINK, .expires_at = T_NOV};
    assert_int_equal(notify_render(&no_address, NOTIFY_CHANNEL_EMAIL, &m), -1);
    no_address.kind = NOTIFY_KIND_EMAIL_CHANGE_REQUESTED;
    no_address.at = T_NOV;
    assert_int_equal(notify_render(&no_address, NOTIFY_CHANNEL_EMAIL, &m), -1);
    no_address.kind = NOTIFY_KIND_EMAIL_CHANGED;
    no_address.new_email = "";
    assert_int_equal(notify_render(&no_address, NOTIFY_CHANNEL_EMAIL, &m), -1);
    notify_facts_t no_confirm_link = {.kind = NOTIFY_KIND_EMAIL_CONFIRM,
                                      .new_email = "a@example.org",
                                      .link = "",
                                      .expires_at = T_NOV};
    assert_int_equal(notify_render(&no_confirm_link, NOTIFY_CHANNEL_EMAIL, &m), -1);
    assert_true(notify_kind_has_link(NOTIFY_KIND_EMAIL_CONFIRM));
    assert_false(notify_kind_has_link(NOTIFY_KIND_EMAIL_CHANGE_REQUESTED));
    assert_false(notify_kind_has_link(NOTIFY_KIND_EMAIL_CHANGED));
    assert_true(notify_kind_has_link(NOTIFY_KIND_PASSWORD_RESET));
    assert_true(notify_kind_has_link(NOTIFY_KIND_ACTIVATION));
    assert_true(notify_kind_has_link(NOTIFY_KIND_COLLABORATOR_INVITED));
    assert_false(notify_kind_has_link(NOTIFY_KIND_COLLABORATOR_ADDED));
    /* the invitation of an account points to the portal: no secret, but
     * no text without it, its expiry or a known role */
    assert_false(notify_kind_has_link(NOTIFY_KIND_INVITATION));
    notify_facts_t inv = {.kind = NOTIFY_KIND_INVITATION, .role = "viewer", .expires_at = T_NOV};
    assert_int_equal(notify_render(&inv, NOTIFY_CHANNEL_EMAIL, &m), -1);
    inv.link = LINK;
    assert_int_equal(notify_render(&inv, NOTIFY_CHANNEL_EMAIL, &m), 0);
    inv.role = "owner";
    assert_int_equal(notify_render(&inv, NOTIFY_CHANNEL_EMAIL, &m), -1);
    inv.role = "viewer";
    inv.expires_at = 0;
    assert_int_equal(notify_render(&inv, NOTIFY_CHANNEL_EMAIL, &m), -1);
    assert_false(notify_kind_has_link(NOTIFY_KIND_PASSWORD_CHANGED));
}

static void the_longest_names_links_and_devices_still_render(void **state)
{
    (void)state;
    char name[201], link[1025], device[201], email[255];
    memset(name, 'N', 200);
    name[200] = '\0';
    memset(email, 'e', 254); /* the longest address accounts accepts */
    memcpy(email + 64, "@", 1);
    memcpy(email + 250, ".org", 5);
    memcpy(link, "https://", 8);
    memset(link + 8, 'x', 1016);
    link[1024] = '\0';
    memset(device, 'D', 200);
    device[200] = '\0';
    for (int k = NOTIFY_KIND_PASSWORD_RESET; k < NOTIFY_KIND_COUNT; k++) {
        notify_facts_t f = {.kind = (notify_kind_t)k,
                            .user_name = name,
                            .customer_name = name,
                            .customer_number = "C-12345678901234567890123456789012",
                            .link = link,
                            .expires_at = T_NOV,
                            .at = T_NOV,
                            .device = device,
                            .address = "2001:0db8:0000:0000:0000:ff00:0042:8329",
                            .role = "orderer",
                            .new_email = email,
                            .linked_name = name,
                            .linked_email = email,
                            .orderer_name = name,
                            .orderer_email = email,
                            .speed = "express_8d",
                            .quantity_kg = 100000,
                            .delivery_date = "2026-11-24"};
        /* the one account kind by SMS: its "link" is a 6-digit code */
        bool sms = k == NOTIFY_KIND_PHONE_VERIFICATION;
        if (sms)
            f.link = "123456";
        notify_message_t m;
        if (notify_render(&f, sms ? NOTIFY_CHANNEL_SMS : NOTIFY_CHANNEL_EMAIL, &m) != 0)
            fail_msg("%s: not rendered", notify_kind_name(f.kind));
    }
}

static void times_are_shown_in_paris_time_across_summer_time(void **state)
{
    (void)state;
    struct {
        int64_t ms;
        const char *plain;
    } t[] = {
        {1795512600000LL, "mardi 24 novembre 2026 à 10 h 30"}, /* 09:30 UTC, UTC+1 */
        {1782293400000LL, "mercredi 24 juin 2026 à 11 h 30"},  /* 09:30 UTC, UTC+2 */
        {1774745999000LL,
         "dimanche 29 mars 2026 à 1 h 59"}, /* 00:59:59 UTC, last minute of winter */
        {1774746000000LL, "dimanche 29 mars 2026 à 3 h 00"},     /* 01:00 UTC: summer time */
        {1792889999000LL, "dimanche 25 octobre 2026 à 2 h 59"},  /* 00:59:59 UTC, still summer */
        {1792890000000LL, "dimanche 25 octobre 2026 à 2 h 00"},  /* 01:00 UTC: winter time */
        {1798760340000LL, "vendredi 1er janvier 2027 à 0 h 39"}, /* 23:39 UTC the day before */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char out[96];
        assert_true(notify_format_time(t[i].ms, NOTIFY_STYLE_PLAIN, out, sizeof out) > 0);
        assert_string_equal(out, t[i].plain);
    }
    char out[96];
    assert_true(notify_format_time(1795512600000LL, NOTIFY_STYLE_TYPOGRAPHIC, out, sizeof out) > 0);
    assert_string_equal(out, AT_NOV);
    assert_int_equal(notify_format_time(0, NOTIFY_STYLE_PLAIN, out, sizeof out), -1);
    assert_int_equal(notify_format_time(1795512600000LL, NOTIFY_STYLE_PLAIN, out, 10), -1);
}

static void every_kind_has_its_french_email_and_sms(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        notify_message_t m;
        if (notify_render(&texts[i].facts, NOTIFY_CHANNEL_EMAIL, &m) != 0)
            fail_msg("%s: e-mail not rendered", texts[i].name);
        assert_string_equal(m.subject, texts[i].subject);
        assert_string_equal(m.body, texts[i].email);
        if (notify_render(&texts[i].facts, NOTIFY_CHANNEL_SMS, &m) != 0)
            fail_msg("%s: SMS not rendered", texts[i].name);
        assert_string_equal(m.subject, "");
        assert_string_equal(m.body, texts[i].sms);
    }
}

static void sms_texts_fit_in_one_or_two_parts(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        notify_message_t m;
        assert_int_equal(notify_render(&texts[i].facts, NOTIFY_CHANNEL_SMS, &m), 0);
        if (strlen(m.body) > 306)
            fail_msg("%s: %zu bytes", texts[i].name, strlen(m.body));
    }
}

/* The length in bytes of the GSM 03.38 character at s (basic table, or the
 * extension table reached by an escape), 0 for one outside it. */
static size_t gsm_char(const char *s)
{
    static const char *const multibyte[] = {"£", "¥", "è", "é", "ù", "ì", "ò", "Ç", "Ø", "ø",
                                            "Å", "å", "Δ", "Φ", "Γ", "Λ", "Ω", "Π", "Ψ", "Σ",
                                            "Θ", "Ξ", "Æ", "æ", "ß", "É", "¤", "¡", "Ä", "Ö",
                                            "Ñ", "Ü", "§", "¿", "ä", "ö", "ñ", "ü", "à", "€"};
    unsigned char c = (unsigned char)*s;
    if (c == '\n' || c == '\r' || (c >= 0x20 && c < 0x7f && c != '`'))
        return 1; /* [ ] { } \\ ^ ~ | are in the extension table */
    for (size_t i = 0; i < sizeof multibyte / sizeof multibyte[0]; i++)
        if (strncmp(s, multibyte[i], strlen(multibyte[i])) == 0)
            return strlen(multibyte[i]);
    return 0;
}

static void sms_texts_stay_in_the_gsm_alphabet(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        notify_message_t m;
        assert_int_equal(notify_render(&texts[i].facts, NOTIFY_CHANNEL_SMS, &m), 0);
        for (const char *p = m.body; *p;) {
            size_t n = gsm_char(p);
            if (n == 0)
                fail_msg("%s: byte %zu (0x%02x) is outside the GSM alphabet", texts[i].name,
                         (size_t)(p - m.body), (unsigned char)*p);
            p += n;
        }
    }
}

/* The code proving a new number goes by SMS only, code first, in the GSM
 * alphabet; without a 6-digit code or a time, nothing renders. */
static void a_phone_code_is_an_sms_only(void **state)
{
    (void)state;
    notify_message_t m;
    notify_facts_t f = {.kind = NOTIFY_KIND_PHONE_VERIFICATION,
                        .user_name = "Marie Dupont",
                        .link = "042917",
                        .expires_at = T_NOV};
    assert_int_equal(notify_render(&f, NOTIFY_CHANNEL_SMS, &m), 0);
    assert_string_equal(m.subject, "");
    assert_string_equal(m.body,
                        "Citerne : 042917 est votre code pour confirmer ce numéro dans votre "
                        "espace client. Il expire le mardi 24 novembre 2026 à 10 h 30 et ne sert "
                        "qu'une fois. Si vous n'avez rien demandé, ignorez ce message.");
    for (const char *p = m.body; *p;) {
        size_t n = gsm_char(p);
        if (n == 0)
            fail_msg("byte %zu (0x%02x) is outside the GSM alphabet", (size_t)(p - m.body),
                     (unsigned char)*p);
        p += n;
    }
    assert_int_equal(notify_render(&f, NOTIFY_CHANNEL_EMAIL, &m), -1);
    assert_true(notify_kind_has_link(NOTIFY_KIND_PHONE_VERIFICATION));
    assert_false(notify_kind_has_preference(NOTIFY_KIND_PHONE_VERIFICATION));
    f.link = "04291";
    assert_int_equal(notify_render(&f, NOTIFY_CHANNEL_SMS, &m), -1);
    f.link = "04291a";
    assert_int_equal(notify_render(&f, NOTIFY_CHANNEL_SMS, &m), -1);
    f.link = "042917";
    f.expires_at = 0;
    assert_int_equal(notify_render(&f, NOTIFY_CHANNEL_SMS, &m), -1);
}

/* order_held is told like the chain (every user of the customer, e-mail and
 * SMS, signed with the customer number) but has no preference: accounts
 * offers none for it, and it is sent whatever the profile says. */
static void a_held_order_is_a_chain_kind_without_a_preference(void **state)
{
    (void)state;
    assert_true(notify_kind_is_chain(NOTIFY_KIND_ORDER_HELD));
    assert_false(notify_kind_has_preference(NOTIFY_KIND_ORDER_HELD));
    for (int k = NOTIFY_KIND_ORDER_PROPOSED; k <= NOTIFY_KIND_INVOICE_ISSUED; k++) {
        assert_true(notify_kind_is_chain((notify_kind_t)k));
        assert_true(notify_kind_has_preference((notify_kind_t)k));
    }
    for (int k = NOTIFY_KIND_PASSWORD_RESET; k < NOTIFY_KIND_COUNT; k++) {
        assert_false(notify_kind_is_chain((notify_kind_t)k));
        assert_false(notify_kind_has_preference((notify_kind_t)k));
    }
    assert_false(notify_kind_has_link(NOTIFY_KIND_ORDER_HELD));
    /* the same words without a name or a customer number */
    notify_facts_t f = {.kind = NOTIFY_KIND_ORDER_HELD, .user_name = "", .customer_number = ""};
    notify_message_t m;
    assert_int_equal(notify_render(&f, NOTIFY_CHANNEL_EMAIL, &m), 0);
    assert_non_null(strstr(m.body, "Bonjour,\n\nVotre livraison de propane est en attente"));
    assert_null(strstr(m.body, "Numéro client"));
    assert_int_equal(notify_render(&f, NOTIFY_CHANNEL_SMS, &m), 0);
}

static void greeting_without_a_name_and_signature_without_a_number(void **state)
{
    (void)state;
    notify_facts_t f = {.kind = NOTIFY_KIND_DELIVERY_CONFIRMED,
                        .user_name = "",
                        .customer_number = "",
                        .delivered_kg = 200,
                        .delivery_date = "2026-11-24"};
    notify_message_t m;
    assert_int_equal(notify_render(&f, NOTIFY_CHANNEL_EMAIL, &m), 0);
    assert_string_equal(m.body, "Bonjour,\n\nNous avons livré 200" NBSP
                                "kg de propane le mardi 24 novembre 2026.\nVotre facture "
                                "suivra.\n\n-- \nCiterne, votre fournisseur de propane\n");
}

static void express_speeds_are_named_in_the_proposal(void **state)
{
    (void)state;
    struct {
        const char *speed, *sms;
    } t[] = {
        {"express_8d", "Citerne : nous vous proposons une livraison de 300 kg de propane "
                       "(express sous 8 jours). Pour la recevoir, confirmez dans votre espace "
                       "client."},
        {"express_48h", "Citerne : nous vous proposons une livraison de 300 kg de propane "
                        "(express sous 48 h). Pour la recevoir, confirmez dans votre espace "
                        "client."},
        {"express_24h", "Citerne : nous vous proposons une livraison de 300 kg de propane "
                        "(express sous 24 h). Pour la recevoir, confirmez dans votre espace "
                        "client."},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        notify_facts_t f = {
            .kind = NOTIFY_KIND_ORDER_PROPOSED, .speed = t[i].speed, .quantity_kg = 300};
        notify_message_t m;
        assert_int_equal(notify_render(&f, NOTIFY_CHANNEL_SMS, &m), 0);
        assert_string_equal(m.body, t[i].sms);
    }
}

static void a_bad_date_or_missing_number_renders_nothing(void **state)
{
    (void)state;
    notify_message_t m;
    notify_facts_t bad_date = {
        .kind = NOTIFY_KIND_DELIVERY_SCHEDULED, .quantity_kg = 200, .delivery_date = "2026-02-30"};
    assert_int_equal(notify_render(&bad_date, NOTIFY_CHANNEL_EMAIL, &m), -1);
    notify_facts_t no_number = {
        .kind = NOTIFY_KIND_INVOICE_ISSUED, .invoice_number = "", .issue_date = "2026-11-25"};
    assert_int_equal(notify_render(&no_number, NOTIFY_CHANNEL_SMS, &m), -1);
}

static void kinds_and_channels_have_stable_names(void **state)
{
    (void)state;
    notify_kind_t k;
    assert_int_equal(notify_kind_parse("invoice_issued", &k), 0);
    assert_int_equal(k, NOTIFY_KIND_INVOICE_ISSUED);
    assert_int_equal(notify_kind_parse("nope", &k), -1);
    assert_string_equal(notify_kind_name(NOTIFY_KIND_ORDER_PROPOSED), "order_proposed");
    assert_string_equal(notify_kind_name(NOTIFY_KIND_DELIVERY_SCHEDULED), "delivery_scheduled");
    assert_string_equal(notify_kind_name(NOTIFY_KIND_DELIVERY_CONFIRMED), "delivery_confirmed");
    assert_string_equal(notify_kind_name(NOTIFY_KIND_PASSWORD_RESET), "password_reset_requested");
    assert_string_equal(notify_kind_name(NOTIFY_KIND_COLLABORATOR_INVITED), "collaborator_invited");
    assert_int_equal(notify_kind_parse("new_device_signed_in", &k), 0);
    assert_int_equal(k, NOTIFY_KIND_NEW_DEVICE);
    /* the names the notifications table's check lists (0004_email_change.sql) */
    assert_string_equal(notify_kind_name(NOTIFY_KIND_EMAIL_CONFIRM), "email_change_confirm");
    assert_string_equal(notify_kind_name(NOTIFY_KIND_EMAIL_CHANGE_REQUESTED),
                        "email_change_requested");
    assert_string_equal(notify_kind_name(NOTIFY_KIND_EMAIL_CHANGED), "email_changed");
    /* and 0006_invitation.sql */
    assert_string_equal(notify_kind_name(NOTIFY_KIND_INVITATION), "invitation_received");
    /* and 0007_customer_linked_admin.sql */
    assert_string_equal(notify_kind_name(NOTIFY_KIND_CUSTOMER_LINKED_ADMIN),
                        "customer_linked_admin");
    /* and 0008_urgent_delivery_ordered.sql */
    assert_string_equal(notify_kind_name(NOTIFY_KIND_URGENT_DELIVERY), "urgent_delivery_ordered");
    /* and 0009_phone_verification.sql */
    assert_string_equal(notify_kind_name(NOTIFY_KIND_PHONE_VERIFICATION), "phone_verification");
    /* and 0005_order_held.sql */
    assert_string_equal(notify_kind_name(NOTIFY_KIND_ORDER_HELD), "order_held");
    assert_int_equal(notify_kind_parse("order_held", &k), 0);
    assert_int_equal(k, NOTIFY_KIND_ORDER_HELD);
    assert_string_equal(notify_channel_name(NOTIFY_CHANNEL_EMAIL), "email");
    assert_string_equal(notify_channel_name(NOTIFY_CHANNEL_SMS), "sms");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(amounts_are_grouped_by_thousands_with_a_decimal_comma),
        cmocka_unit_test(quantities_are_grouped_and_end_in_kg),
        cmocka_unit_test(dates_are_written_in_french_with_the_weekday),
        cmocka_unit_test(every_kind_has_its_french_email_and_sms),
        cmocka_unit_test(sms_texts_fit_in_one_or_two_parts),
        cmocka_unit_test(sms_texts_stay_in_the_gsm_alphabet),
        cmocka_unit_test(a_phone_code_is_an_sms_only),
        cmocka_unit_test(a_held_order_is_a_chain_kind_without_a_preference),
        cmocka_unit_test(greeting_without_a_name_and_signature_without_a_number),
        cmocka_unit_test(express_speeds_are_named_in_the_proposal),
        cmocka_unit_test(a_bad_date_or_missing_number_renders_nothing),
        cmocka_unit_test(kinds_and_channels_have_stable_names),
        cmocka_unit_test(every_account_kind_has_its_french_email_and_no_sms),
        cmocka_unit_test(a_link_message_without_its_link_or_time_renders_nothing),
        cmocka_unit_test(an_urgent_delivery_needs_an_express_speed),
        cmocka_unit_test(times_are_shown_in_paris_time_across_summer_time),
        cmocka_unit_test(the_longest_names_links_and_devices_still_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
