# Real-kernel tests: the host lacks sw_sync and DRM, so these run a test binary inside a QEMU VM
# booting the test kernel (tests/vm/). One VM at a time (RESOURCE_LOCK); exit 77 (no QEMU, no
# kernel) is a ctest skip with the harness's reason; a kernel WARNING/BUG/Oops fails the test.
#
# syncbridge_add_vm_test(<name> [VM_ARGS <run-in-vm.sh options...>] COMMAND <exe-or-target> [args...]
#                        [LABELS ...] [TIMEOUT s] [KERNEL stock|patched|<path>] [ALSO_PATCHED])
#
# KERNEL picks the kernel (run-in-vm.sh --kernel; default: the stock test kernel). ALSO_PATCHED
# adds vm.<name>.patched, the same command on the patched test kernel (the sw_sync fix,
# tests/vm/build-kernel.sh --patched) with the extra label "patched-kernel"; it skips, naming
# the command that builds that kernel, where it is not built. The patched entries are made in
# unsanitized builds only: they test the kernel, which the sanitizers do not see, and the
# stock entries already run the same userspace under them.
set(SYNCBRIDGE_VM_RUNNER ${PROJECT_SOURCE_DIR}/tests/vm/run-in-vm.sh)

# A build tree anywhere works, /tmp included: run-in-vm.sh shares a build directory that the
# guest's own /tmp, /var/tmp or /run would hide into the VM at the same path.

# One ctest entry vm.<test_name> booting <kernel> ("" for run-in-vm.sh's default); the command,
# labels and timeouts come from the calling syncbridge_add_vm_test().
function(_syncbridge_add_vm_test_entry test_name kernel)
  set(kernel_args "")
  set(labels vm ${ARG_LABELS})
  if(NOT kernel STREQUAL "")
    set(kernel_args --kernel ${kernel})
  endif()
  if(kernel STREQUAL "patched")
    list(APPEND labels patched-kernel)
  endif()
  add_test(NAME vm.${test_name}
           COMMAND ${SYNCBRIDGE_VM_RUNNER} --timeout ${ARG_TIMEOUT} --name ${test_name} ${kernel_args} ${ARG_VM_ARGS}
                   -- ${exe} ${ARG_COMMAND}
           WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(vm.${test_name} PROPERTIES LABELS "${labels}" SKIP_RETURN_CODE 77
                       RESOURCE_LOCK syncbridge-vm TIMEOUT ${ctest_timeout})
endfunction()

function(syncbridge_add_vm_test name)
  cmake_parse_arguments(ARG "ALSO_PATCHED" "TIMEOUT;KERNEL" "COMMAND;LABELS;VM_ARGS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  list(POP_FRONT ARG_COMMAND exe)
  if(TARGET ${exe})
    set(exe $<TARGET_FILE:${exe}>)
  endif()
  math(EXPR ctest_timeout "${ARG_TIMEOUT} + 120")
  _syncbridge_add_vm_test_entry(${name} "${ARG_KERNEL}")
  if(ARG_ALSO_PATCHED AND SYNCBRIDGE_SANITIZER STREQUAL "")
    _syncbridge_add_vm_test_entry(${name}.patched patched)
  endif()
endfunction()
