ct_add_test(test_outbox SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_outbox.c STACK)
