ct_add_test(test_cache SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cache.c STACK)
