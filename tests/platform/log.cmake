ct_add_test(test_log SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_log.c)
