# syncbridge_add_shader(<target> SOURCE <file.comp> NAME <identifier>)
#
# Compiles a GLSL shader to SPIR-V with glslc at build time (Vulkan::glslc, from Debian's
# glslc package), writes the .spv next to <target>'s binary (so a copied build folder carries
# it), and embeds the same words in a generated header, <identifier>_spv.h, that defines
#   inline constexpr std::uint32_t <identifier>_spv[] = {...};
# so the program needs no file at run time. The header's folder is added to <target>'s
# include path.
find_package(Vulkan REQUIRED COMPONENTS glslc)

function(syncbridge_add_shader target)
  cmake_parse_arguments(ARG "" "SOURCE;NAME" "" ${ARGN})
  if(NOT ARG_SOURCE OR NOT ARG_NAME)
    message(FATAL_ERROR "syncbridge_add_shader: SOURCE and NAME are required")
  endif()
  get_filename_component(src ${ARG_SOURCE} ABSOLUTE)
  set(gen_dir ${CMAKE_CURRENT_BINARY_DIR}/shaders)
  set(spv ${gen_dir}/${ARG_NAME}.spv)
  set(header ${gen_dir}/${ARG_NAME}_spv.h)
  add_custom_command(
    OUTPUT ${spv} ${header}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${gen_dir}
    COMMAND Vulkan::glslc --target-env=vulkan1.2 -O -Werror -o ${spv} ${src}
    COMMAND ${CMAKE_COMMAND} -DSPV=${spv} -DHEADER=${header} -DNAME=${ARG_NAME}
            -P ${PROJECT_SOURCE_DIR}/cmake/SyncbridgeEmbedSpirv.cmake
    DEPENDS ${src} ${PROJECT_SOURCE_DIR}/cmake/SyncbridgeEmbedSpirv.cmake
    COMMENT "glslc ${ARG_SOURCE} -> ${ARG_NAME}.spv"
    VERBATIM)
  add_custom_target(${target}-shader-${ARG_NAME} DEPENDS ${spv} ${header})
  add_dependencies(${target} ${target}-shader-${ARG_NAME})
  target_include_directories(${target} PRIVATE ${gen_dir})
  # The .spv beside the binary too: for inspection (spirv-dis) and for copies of the build.
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -E copy_if_different ${spv} $<TARGET_FILE_DIR:${target}>/${ARG_NAME}.spv
    VERBATIM)
endfunction()
