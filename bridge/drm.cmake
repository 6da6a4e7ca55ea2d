# The DRM syncobj half of syncbridge-bridge (libdrm) and the fence watcher: included at the end
# of bridge/CMakeLists.txt.
#
# libdrm comes from pkg-config (libdrm-dev). It is a private dependency: no public header
# includes xf86drm.h, but a static libsyncbridge-bridge still needs -ldrm at the consumer's
# link, which is why the package config runs the same pkg_check_modules (see
# cmake/syncbridgeConfig.cmake.in) and syncbridge-bridge.pc lists libdrm in Requires.private.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBDRM REQUIRED IMPORTED_TARGET GLOBAL libdrm)

# The DRM ops (every libdrm call), the device and its syncobjs, the exporter and importer over
# them, and the watcher (its core, and the fallback waiter for kernels without the eventfd ioctl).
syncbridge_bridge_sources(drm drm_ops.cpp drm_device.cpp syncobj_handle.cpp binary_syncobj.cpp drm_syncobj.cpp
                          syncobj_exporter.cpp syncobj_importer.cpp syncobj_fallback_waiter.cpp watcher_core.cpp watcher.cpp)
target_link_libraries(syncbridge-bridge PRIVATE PkgConfig::LIBDRM)

# drmSyncobjEventfd arrived in libdrm 2.4.116 (bookworm has 2.4.114): use it where the
# installed libdrm has it, else drm_ops.cpp issues DRM_IOCTL_SYNCOBJ_EVENTFD itself with the
# struct from the kernel uAPI. Checked against the headers and the library actually linked.
include(CheckSymbolExists)
include(CMakePushCheckState)
cmake_push_check_state(RESET)
set(CMAKE_REQUIRED_INCLUDES ${LIBDRM_INCLUDE_DIRS})
set(CMAKE_REQUIRED_LIBRARIES ${LIBDRM_LINK_LIBRARIES})
set(CMAKE_REQUIRED_QUIET ON)
check_symbol_exists(drmSyncobjEventfd "xf86drm.h" SYNCBRIDGE_HAVE_DRM_SYNCOBJ_EVENTFD)
cmake_pop_check_state()
if(SYNCBRIDGE_HAVE_DRM_SYNCOBJ_EVENTFD)
  set(_sb_drm_eventfd 1)
  message(STATUS "syncbridge: libdrm ${LIBDRM_VERSION} has drmSyncobjEventfd")
else()
  set(_sb_drm_eventfd 0)
  message(STATUS "syncbridge: libdrm ${LIBDRM_VERSION} lacks drmSyncobjEventfd: DRM_IOCTL_SYNCOBJ_EVENTFD issued directly")
endif()
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/src/drm/drm_ops.cpp PROPERTIES
  COMPILE_DEFINITIONS SYNCBRIDGE_HAVE_DRM_SYNCOBJ_EVENTFD=${_sb_drm_eventfd})
unset(_sb_drm_eventfd)
