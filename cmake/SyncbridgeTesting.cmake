include(GoogleTest)

# syncbridge_add_gtest(<name> LABELS <labels...> SOURCES <files...> [LIBS <targets...>])
# One executable per suite; every test case becomes a ctest test carrying the labels, and a
# GTEST_SKIP() turns into a ctest "skipped" (never a silent pass).
function(syncbridge_add_gtest name)
  cmake_parse_arguments(ARG "" "" "LABELS;SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} syncbridge-test-support GTest::gtest GTest::gtest_main)
  syncbridge_set_warnings(${name})
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
                       PROPERTIES LABELS "${ARG_LABELS}" SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
endfunction()
