# The C API (include/syncbridge/syncbridge.h): included at the end of bridge/CMakeLists.txt,
# after the kernel, Vulkan and DRM halves it wraps.
syncbridge_bridge_sources(capi capi_core.cpp capi_kernel.cpp capi_vulkan.cpp)
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/src/capi/capi_core.cpp PROPERTIES
  COMPILE_DEFINITIONS "SYNCBRIDGE_VERSION_STRING=\"${PROJECT_VERSION}\"")
