# The Vulkan half of syncbridge-bridge: included at the end of bridge/CMakeLists.txt.
#
# The library itself needs only the Vulkan headers: the application hands it its own
# vkGetInstanceProcAddr (VulkanDevice), or asks VulkanLoader to dlopen libvulkan.so.1 at run
# time, so nothing here links the Vulkan loader.
find_package(Vulkan REQUIRED COMPONENTS glslc)

if(NOT TARGET syncbridge-bridge)
  # Stand-in until bridge/CMakeLists.txt defines the real target: a static library with the
  # Vulkan sources only.
  add_library(syncbridge-bridge STATIC)
  add_library(syncbridge::bridge ALIAS syncbridge-bridge)
  target_include_directories(syncbridge-bridge PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(syncbridge-bridge PUBLIC syncbridge::core)
  syncbridge_set_warnings(syncbridge-bridge)
endif()

# The device and its capabilities; the context and loader for programs without their own;
# CPU -> GPU (vulkan_bridge.h) and GPU -> CPU (vulkan_completion.h), which share the semaphore
# pool and the watcher slot.
target_sources(syncbridge-bridge PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/src/vulkan_caps.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/vulkan_device.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/vulkan_loader.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/vulkan_context.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/vulkan_semaphore_pool.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/vulkan_watcher_slot.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/vulkan_bridge.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/vulkan_completion.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/vulkan_completion_wait.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/vulkan_completion_export.cpp)
# The public headers include <vulkan/vulkan.h>. Vulkan::Headers is a build-time dependency
# only: installed, the headers are found where the system keeps them (/usr/include on Debian),
# so the exported package does not need find_dependency(Vulkan).
target_link_libraries(syncbridge-bridge PUBLIC $<BUILD_INTERFACE:Vulkan::Headers> PRIVATE ${CMAKE_DL_LIBS})
