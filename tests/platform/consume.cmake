# Skipped records: the orphan window as a rule, skips and orphans through a
# real consumer (librdkafka's mock cluster) and the test stack's Postgres.
ct_add_test(test_consume SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_consume.c STACK)
