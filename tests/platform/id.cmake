ct_add_test(test_id SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_id.c)
