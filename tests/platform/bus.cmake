# bus against an in-process librdkafka mock cluster (needs no stack).
ct_add_test(test_bus SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bus.c LIBS PkgConfig::RDKAFKA)
