#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "citerne/error.h"
#include "citerne/event.h"

static void root_event_starts_its_own_chain(void **state)
{
    (void)state;
    ct_event_meta_t m;
    int64_t before = ct_now_ms();
    ct_event_meta_init(&m, "telemetry", NULL);
    assert_true(ct_uuid_valid(m.meta.event_id));
    assert_string_equal(m.meta.correlation_id, m.meta.event_id);
    assert_string_equal(m.meta.causation_id, "");
    assert_string_equal(m.meta.producer, "telemetry");
    assert_in_range(m.meta.occurred_at, before, ct_now_ms());
    assert_int_equal(ct_event_meta_check(&m.meta), 0);
}

static void caused_event_keeps_correlation_and_points_at_its_cause(void **state)
{
    (void)state;
    ct_event_meta_t root, child, grandchild;
    ct_event_meta_init(&root, "telemetry", NULL);
    ct_event_meta_init(&child, "orders", &root.meta);
    ct_event_meta_init(&grandchild, "billing", &child.meta);
    assert_string_not_equal(child.meta.event_id, root.meta.event_id);
    assert_string_equal(child.meta.correlation_id, root.meta.event_id);
    assert_string_equal(child.meta.causation_id, root.meta.event_id);
    assert_string_equal(grandchild.meta.correlation_id, root.meta.event_id);
    assert_string_equal(grandchild.meta.causation_id, child.meta.event_id);
}

static void meta_check_rejects_bad_ids(void **state)
{
    (void)state;
    ct_event_meta_t m;
    ct_event_meta_init(&m, "orders", NULL);
    Citerne__V1__EventMeta bad = m.meta;
    bad.event_id = "not-a-uuid";
    assert_int_equal(ct_event_meta_check(&bad), CT_EDECODE);
    bad = m.meta;
    bad.correlation_id = "";
    assert_int_equal(ct_event_meta_check(&bad), CT_EDECODE);
    assert_int_equal(ct_event_meta_check(NULL), CT_EDECODE);
}

static void long_producer_name_is_truncated_safely(void **state)
{
    (void)state;
    ct_event_meta_t m;
    ct_event_meta_init(&m, "a-producer-name-much-longer-than-thirty-one-chars", NULL);
    assert_int_equal(strlen(m.meta.producer), sizeof m.producer - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(root_event_starts_its_own_chain),
        cmocka_unit_test(caused_event_keeps_correlation_and_points_at_its_cause),
        cmocka_unit_test(meta_check_rejects_bad_ids),
        cmocka_unit_test(long_producer_name_is_truncated_safely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
