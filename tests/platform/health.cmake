ct_add_test(test_health SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_health.c)
