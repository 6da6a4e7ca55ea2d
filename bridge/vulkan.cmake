# The Vulkan half of syncbridge-bridge: included at the end of bridge/CMakeLists.txt.
#
# The library itself needs only the Vulkan headers: the application hands it its own
# vkGetInstanceProcAddr (VulkanDevice), or asks VulkanLoader to dlopen libvulkan.so.1 at run
# time, so nothing here links the Vulkan loader.
find_package(Vulkan REQUIRED COMPONENTS glslc)

# The device and its capabilities; the context and loader for programs without their own;
# CPU -> GPU (vulkan_bridge.h) and GPU -> CPU (vulkan_completion.h), which share the semaphore
# pool and the watcher slot.
syncbridge_bridge_sources(vulkan vulkan_caps.cpp vulkan_device.cpp vulkan_loader.cpp vulkan_context.cpp
                          vulkan_semaphore_pool.cpp vulkan_watcher_slot.cpp vulkan_bridge.cpp vulkan_completion.cpp
                          vulkan_stream_core.cpp vulkan_stream_core_wait.cpp vulkan_stream_core_export.cpp)
# The public headers include <vulkan/vulkan.h>. Vulkan::Headers is a build-time dependency
# only: installed, the headers are found where the system keeps them (/usr/include on Debian),
# so the exported package does not need find_dependency(Vulkan).
target_link_libraries(syncbridge-bridge PUBLIC $<BUILD_INTERFACE:Vulkan::Headers> PRIVATE ${CMAKE_DL_LIBS})
