# ct_embed_migrations(<target> <prefix> <dir>): compiles every <dir>/NNNN_*.sql
# into a C array `const ct_migration_t <prefix>_migrations[]` and
# `const size_t <prefix>_migrations_count`, in file name order.
function(ct_embed_migrations target prefix dir)
  file(GLOB sqls CONFIGURE_DEPENDS ${dir}/[0-9][0-9][0-9][0-9]_*.sql)
  list(SORT sqls)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${prefix}_migrations.c)
  # a CMake list would be split into separate command arguments: pass it
  # with another separator
  string(REPLACE ";" "|" sqls_arg "${sqls}")
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DPREFIX=${prefix} "-DSQLS=${sqls_arg}"
            -P ${CMAKE_SOURCE_DIR}/cmake/embed_run.cmake
    DEPENDS ${sqls} ${CMAKE_SOURCE_DIR}/cmake/embed_run.cmake
    COMMENT "embedding ${prefix} migrations"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
