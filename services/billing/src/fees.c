/* The delivery fee table of the service booklet (2017 tariffs), as
 * distilled in DOMAIN.md. Amounts are excl. VAT, in cents; fees carry 20%
 * VAT. */
#include "fees.h"

#include <stddef.h>
#include <string.h>

/* Express fees by speed and band: [speed][0] for >= 400 kg, [1] for 200-399. */
static const int64_t express_fee[][2] = {
    [BILLING_SPEED_EXPRESS_8D] = {4167, 6250},
    [BILLING_SPEED_EXPRESS_48H] = {8333, 12500},
    [BILLING_SPEED_EXPRESS_24H] = {16667, 20000}, /* businesses only */
};

/* 15 days in winter, households without a plan: 15.00 / 30.00 incl. VAT. */
static const int64_t standard_winter_household_fee[2] = {1250, 2500};

static const char *const speed_label[] = {
    [BILLING_SPEED_STANDARD] = "Frais de livraison sous 15 jours",
    [BILLING_SPEED_EXPRESS_8D] = "Frais de livraison express sous 8 jours",
    [BILLING_SPEED_EXPRESS_48H] = "Frais de livraison express sous 48 h",
    [BILLING_SPEED_EXPRESS_24H] = "Frais de livraison express sous 24 h",
};

bool billing_is_winter(int month)
{
    return month >= 10 || month <= 3;
}

static bool has_free_delivery_plan(billing_plan_t plan)
{
    return plan == BILLING_PLAN_PREFERENCE || plan == BILLING_PLAN_PRIVILEGE;
}

billing_fee_t billing_fee(const billing_fee_input_t *in)
{
    billing_fee_t fee = {.amount_excl_cents = 0, .billed_speed = in->speed};
    if (in->mode == BILLING_MODE_AUTOMATIC)
        return fee;
    int band = in->ordered_kg >= BILLING_FEE_LARGE_KG ? 0 : 1;
    switch (in->speed) {
    case BILLING_SPEED_STANDARD:
        if (billing_is_winter(in->month) && in->segment == BILLING_SEGMENT_HOUSEHOLD &&
            !has_free_delivery_plan(in->plan))
            fee.amount_excl_cents = standard_winter_household_fee[band];
        break;
    case BILLING_SPEED_EXPRESS_24H:
        if (in->segment == BILLING_SEGMENT_HOUSEHOLD) {
            fee.billed_speed = BILLING_SPEED_EXPRESS_48H;
            fee.downgraded = true;
        }
        fee.amount_excl_cents = express_fee[fee.billed_speed][band];
        break;
    case BILLING_SPEED_EXPRESS_8D:
    case BILLING_SPEED_EXPRESS_48H:
        fee.amount_excl_cents = express_fee[in->speed][band];
        break;
    }
    if (fee.amount_excl_cents > 0)
        fee.label = speed_label[fee.billed_speed];
    return fee;
}

static int parse(const char *s, const char *const *names, size_t n, int *out)
{
    if (!s)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    return -1;
}

#define PARSE(names, s, out)                                                                       \
    do {                                                                                           \
        int v_;                                                                                    \
        if (parse((s), (names), sizeof(names) / sizeof(names)[0], &v_) != 0)                       \
            return -1;                                                                             \
        *(out) = v_;                                                                               \
        return 0;                                                                                  \
    } while (0)

static const char *const segment_names[] = {"household", "business"};
static const char *const mode_names[] = {"automatic", "on_demand"};
static const char *const speed_names[] = {"standard", "express_8d", "express_48h", "express_24h"};
static const char *const plan_names[] = {"none", "preference", "privilege", "pacte_maintenance"};

int billing_segment_parse(const char *s, billing_segment_t *out)
{
    PARSE(segment_names, s, out);
}

int billing_mode_parse(const char *s, billing_mode_t *out)
{
    PARSE(mode_names, s, out);
}

int billing_speed_parse(const char *s, billing_speed_t *out)
{
    PARSE(speed_names, s, out);
}

int billing_plan_parse(const char *s, billing_plan_t *out)
{
    PARSE(plan_names, s, out);
}

const char *billing_speed_name(billing_speed_t speed)
{
    if ((unsigned)speed < sizeof speed_names / sizeof speed_names[0])
        return speed_names[speed];
    return "unknown";
}
