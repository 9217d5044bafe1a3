ct_add_test(test_inbox SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_inbox.c STACK)
