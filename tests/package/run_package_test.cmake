# cmake -P script: a user's view of the installed package, for both kinds of library. The
# shared install is this build's (shared by default); the static one is a libraries-only build
# of the same source with BUILD_SHARED_LIBS=OFF, kept under WORK_DIR so reruns are incremental.
# For each install, from a scratch prefix: a C++ and a C consumer built with find_package, and
# the same two linked through pkg-config (plain for the shared install, --static for the static
# one), each run. Shared consumers must load libsyncbridge-*.so.0; static ones must not.
set(shared_prefix ${WORK_DIR}/prefix-shared)
set(static_prefix ${WORK_DIR}/prefix-static)
file(REMOVE_RECURSE ${shared_prefix} ${static_prefix} ${WORK_DIR}/consumers)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

# Runs a consumer binary and checks what it printed and which syncbridge libraries it loads.
function(check_consumer exe kind)
  run(${exe})
  if(NOT last_output MATCHES "consumer: signaled")
    message(FATAL_ERROR "${exe} printed: ${last_output}")
  endif()
  run(readelf -d ${exe})
  if(kind STREQUAL "shared" AND NOT last_output MATCHES "libsyncbridge-[a-z]+\\.so\\.0")
    message(FATAL_ERROR "${exe} does not load a shared libsyncbridge:\n${last_output}")
  elseif(kind STREQUAL "static" AND last_output MATCHES "libsyncbridge")
    message(FATAL_ERROR "${exe} loads libsyncbridge from a static install:\n${last_output}")
  endif()
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${shared_prefix})
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/static-build -G Ninja -DBUILD_SHARED_LIBS=OFF
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNCBRIDGE_BUILD_TESTS=OFF -DSYNCBRIDGE_BUILD_SAMPLES=OFF
    -DSYNCBRIDGE_BUILD_BENCHMARKS=OFF -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/static-build)
run(${CMAKE_COMMAND} --install ${WORK_DIR}/static-build --prefix ${static_prefix})

# An installed program finds the installed shared libraries on its own (no LD_LIBRARY_PATH, no
# ldconfig): the probe runs from the scratch prefix (exit 1 only says no complete GPU path).
if(EXISTS ${shared_prefix}/bin/syncbridge-probe)
  execute_process(COMMAND ${shared_prefix}/bin/syncbridge-probe --json --no-import-check RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT (rc EQUAL 0 OR rc EQUAL 1) OR NOT out MATCHES "syncbridge-probe/1")
    message(FATAL_ERROR "the installed syncbridge-probe did not run (exit ${rc}):\n${out}\n${err}")
  endif()
endif()

find_program(PKG_CONFIG pkg-config REQUIRED)
foreach(kind shared static)
  set(prefix ${${kind}_prefix})
  set(out ${WORK_DIR}/consumers/${kind})
  run(${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${out}/cmake -DCMAKE_PREFIX_PATH=${prefix}
      -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
  run(${CMAKE_COMMAND} --build ${out}/cmake)
  check_consumer(${out}/cmake/consumer ${kind})
  check_consumer(${out}/cmake/consumer-c ${kind})

  file(GLOB_RECURSE pc_files ${prefix}/*/syncbridge-bridge.pc)
  list(GET pc_files 0 pc_file)
  get_filename_component(pc_dir ${pc_file} DIRECTORY)
  get_filename_component(lib_dir ${pc_dir} DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} ${pc_dir})
  set(static_flag "")
  if(kind STREQUAL "static")
    set(static_flag --static)
  endif()
  foreach(lang cxx c)
    if(lang STREQUAL "cxx")
      set(package syncbridge-core)
      set(compile ${CXX_COMPILER} -std=c++20 ${CONSUMER_DIR}/main.cpp)
    else()
      set(package syncbridge-bridge)
      set(compile ${C_COMPILER} -std=c11 -Wall -Wextra -Werror -pedantic ${CONSUMER_DIR}/main.c)
    endif()
    run(${PKG_CONFIG} --cflags --libs ${static_flag} ${package})
    string(STRIP "${last_output}" flags)
    separate_arguments(flags UNIX_COMMAND "${flags}")
    run(${compile} ${flags} -Wl,-rpath,${lib_dir} -o ${out}/pkg-config-${lang})
    check_consumer(${out}/pkg-config-${lang} ${kind})
  endforeach()
endforeach()
message(STATUS "shared and static installs: C++ and C consumers built with find_package and pkg-config, all ran")
