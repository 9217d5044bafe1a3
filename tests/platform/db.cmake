ct_add_test(test_db SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_db.c STACK)
