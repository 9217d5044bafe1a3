# HTTP server (through loopback connections) and JSON body validation.
ct_add_test(test_http SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_http.c)
target_include_directories(test_http PRIVATE ${CMAKE_SOURCE_DIR}/platform/src)
ct_add_test(test_validate SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_validate.c)
