# DRM syncobj and watcher suites: included by tests/bridge/CMakeLists.txt. Source paths are
# relative to tests/bridge, where the binaries are built.
# Labels as the rest of tests/bridge: "bridge" runs on any kernel (the watcher with eventfds,
# pipes and core fences; DRM error paths that need no driver), also under ASan and TSan;
# "kernel" needs a render node with timeline syncobjs (virtio_gpu in tests/vm/run-in-vm.sh) and
# skips elsewhere with the reason; "stress" is the long race run. The tests call libdrm
# directly only to count handles (the library's own calls all go through bridge/src/drm/drm_ops).
syncbridge_add_gtest(syncbridge-tests-drm-host LABELS bridge
  SOURCES drm/drm_device_host_test.cpp drm/watcher_test.cpp bitmask_host_test.cpp
  LIBS syncbridge::bridge PkgConfig::LIBDRM)
syncbridge_add_gtest(syncbridge-tests-drm-kernel LABELS kernel
  SOURCES drm/drm_device_test.cpp drm/syncobj_test.cpp drm/syncobj_exporter_test.cpp
          drm/syncobj_exporter_close_test.cpp drm/watcher_kernel_test.cpp drm/watcher_fallback_kernel_test.cpp
          exporter_contract_test.cpp drm/syncobj_importer_lifetime_test.cpp
  LIBS syncbridge::bridge PkgConfig::LIBDRM)
syncbridge_add_gtest(syncbridge-tests-watcher-stress LABELS "bridge;stress"
  SOURCES drm/watcher_stress_test.cpp
  LIBS syncbridge::bridge PkgConfig::LIBDRM)

# The "kernel" suite for real, inside the test VM (virtio_gpu render node with timeline
# syncobjs and the eventfd ioctl, vgem without syncobj, sw_sync): ctest label "vm"; again on the
# patched test kernel as vm.drm-kernel.patched.
if(COMMAND syncbridge_add_vm_test)
  syncbridge_add_vm_test(drm-kernel COMMAND syncbridge-tests-drm-kernel LABELS kernel TIMEOUT 600 ALSO_PATCHED)
endif()
