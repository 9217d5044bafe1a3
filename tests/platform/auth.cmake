# Bearer API keys, on fake requests (no connection needed).
ct_add_test(test_auth SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_auth.c)
target_include_directories(test_auth PRIVATE ${CMAKE_SOURCE_DIR}/platform/src)
