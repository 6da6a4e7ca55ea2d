# sync_file, sw_sync, fd-passing and exporter suites: included by tests/bridge/CMakeLists.txt.
# Source paths are relative to tests/bridge, where the binaries are built.
syncbridge_add_gtest(syncbridge-tests-bridge LABELS bridge
  SOURCES kernel/sync_file_host_test.cpp kernel/fd_passing_host_test.cpp kernel/sw_sync_host_test.cpp
  LIBS syncbridge::bridge)
syncbridge_add_gtest(syncbridge-tests-bridge-kernel LABELS kernel
  SOURCES kernel/sync_file_kernel_test.cpp kernel/exporter_kernel_test.cpp kernel/exporter_close_kernel_test.cpp
          kernel/fd_passing_kernel_test.cpp
  LIBS syncbridge::bridge)
syncbridge_add_gtest(syncbridge-tests-bridge-race LABELS "kernel;stress"
  SOURCES kernel/race_test.cpp
  LIBS syncbridge::bridge)

# The "kernel" suites for real, inside the test VM (label "vm"); nothing may skip there. Each
# also runs on the patched test kernel (vm.<name>.patched, label "patched-kernel").
syncbridge_add_vm_test(bridge-kernel COMMAND syncbridge-tests-bridge-kernel LABELS kernel TIMEOUT 600 ALSO_PATCHED)
syncbridge_add_vm_test(bridge-race COMMAND syncbridge-tests-bridge-race LABELS "kernel;stress" TIMEOUT 600
                       ALSO_PATCHED)

# The negative control: the seed's adversarial pattern with raw ioctls, which crashes stock
# 6.12 kernels (run it in the VM only). Never part of a default run.
option(SYNCBRIDGE_RUN_KERNEL_BUG_REPRO "Enable the ctest entry that tries to crash the kernel through sw_sync's refcount race" OFF)
add_executable(syncbridge-kernel-bug-repro kernel/kernel_bug_repro.cpp)
find_package(Threads REQUIRED)
target_link_libraries(syncbridge-kernel-bug-repro PRIVATE Threads::Threads syncbridge-test-support)
syncbridge_set_warnings(syncbridge-kernel-bug-repro)
add_test(NAME bridge.kernel_bug_repro COMMAND syncbridge-kernel-bug-repro 30)
set_tests_properties(bridge.kernel_bug_repro PROPERTIES LABELS "kernel-bug-repro" SKIP_RETURN_CODE 77 TIMEOUT 120)
if(NOT SYNCBRIDGE_RUN_KERNEL_BUG_REPRO)
  set_tests_properties(bridge.kernel_bug_repro PROPERTIES DISABLED TRUE)
endif()

# The proof of the fix, in every default run: the same repro on the patched test kernel
# (tests/vm/sw_sync-refcount-fix.patch) must find nothing, and the kernel log must stay clean
# (run-in-vm.sh exits 3 on any report). The repro exits 1 for "no kernel report" and 0 for
# "reproduced", so a line of sh turns 1 into a pass and 0 into a failure; 77 stays a skip.
# Unsanitized builds only, like the other patched-kernel entries.
if(SYNCBRIDGE_SANITIZER STREQUAL "")
  set(expect_no_report [=[
"$0" "$1"
status=$?
if [ "$status" -eq 1 ]
then echo "kernel-bug-repro.patched: no kernel report: the patched sw_sync holds" && exit 0
elif [ "$status" -eq 0 ]
then echo "kernel-bug-repro.patched: the race reproduced on the patched kernel" && exit 1
fi
exit "$status"
]=])
  syncbridge_add_vm_test(kernel-bug-repro.patched KERNEL patched TIMEOUT 200 LABELS kernel
    COMMAND sh -c "${expect_no_report}" $<TARGET_FILE:syncbridge-kernel-bug-repro> 30)
endif()
