# The service runtime's hooks: a whole service on the test stack's Postgres
# and librdkafka's mock cluster, stopped by SIGTERM.
ct_add_test(test_service SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_service.c STACK)
