# Real-kernel tests: the host lacks sw_sync and DRM, so these run a test binary inside a QEMU VM
# booting the test kernel (tests/vm/). One VM at a time (RESOURCE_LOCK); exit 77 (no QEMU, no
# kernel) is a ctest skip with the harness's reason; a kernel WARNING/BUG/Oops fails the test.
#
# syncbridge_add_vm_test(<name> [VM_ARGS <run-in-vm.sh options...>] COMMAND <exe-or-target> [args...]
#                        [LABELS ...] [TIMEOUT s])
set(SYNCBRIDGE_VM_RUNNER ${PROJECT_SOURCE_DIR}/tests/vm/run-in-vm.sh)

# A build tree anywhere works, /tmp included: run-in-vm.sh shares a build directory that the
# guest's own /tmp, /var/tmp or /run would hide into the VM at the same path.

function(syncbridge_add_vm_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "COMMAND;LABELS;VM_ARGS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  list(POP_FRONT ARG_COMMAND exe)
  if(TARGET ${exe})
    set(exe $<TARGET_FILE:${exe}>)
  endif()
  math(EXPR ctest_timeout "${ARG_TIMEOUT} + 120")
  add_test(NAME vm.${name}
           COMMAND ${SYNCBRIDGE_VM_RUNNER} --timeout ${ARG_TIMEOUT} --name ${name} ${ARG_VM_ARGS} -- ${exe} ${ARG_COMMAND}
           WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(vm.${name} PROPERTIES LABELS "vm;${ARG_LABELS}" SKIP_RETURN_CODE 77
                       RESOURCE_LOCK syncbridge-vm TIMEOUT ${ctest_timeout})
endfunction()
