ct_add_test(test_migrate SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_migrate.c STACK)
