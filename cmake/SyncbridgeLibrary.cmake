# syncbridge_add_library(<component> SOURCES <files...>): the library syncbridge-<component>
# (libsyncbridge-<component>.so.<major>, or .a with BUILD_SHARED_LIBS=OFF),
# aliased syncbridge::<component>, its public headers in <dir>/include, warnings on, and (with
# SYNCBRIDGE_INSTALL) installed into the syncbridgeTargets export set with its headers and the
# relocatable cmake/syncbridge-<component>.pc.
function(syncbridge_add_library component)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  set(target syncbridge-${component})
  add_library(${target} ${ARG_SOURCES})
  add_library(syncbridge::${component} ALIAS ${target})
  # Shared (the default, BUILD_SHARED_LIBS) or static. Either way only SYNCBRIDGE_API
  # declarations are visible (syncbridge/export.h); a shared library also gets the version
  # script and refuses undefined symbols (except the sanitizer runtime's).
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${component} OUTPUT_NAME ${target}
                        VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
                        CXX_VISIBILITY_PRESET hidden C_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  if(BUILD_SHARED_LIBS)
    # Installed anywhere, libsyncbridge-bridge finds libsyncbridge-core beside it.
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN")
    set(map ${PROJECT_SOURCE_DIR}/cmake/syncbridge.map)
    target_link_options(${target} PRIVATE "LINKER:--version-script=${map}")
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${map})
    if(SYNCBRIDGE_SANITIZER STREQUAL "")
      target_link_options(${target} PRIVATE "LINKER:--no-undefined")
    endif()
  endif()
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  syncbridge_set_warnings(${target})
  if(SYNCBRIDGE_INSTALL)
    install(TARGETS ${target} EXPORT syncbridgeTargets
            ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
            LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
            RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
    install(DIRECTORY include/syncbridge DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
    configure_file(${PROJECT_SOURCE_DIR}/cmake/${target}.pc.in ${PROJECT_BINARY_DIR}/${target}.pc @ONLY)
    install(FILES ${PROJECT_BINARY_DIR}/${target}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  endif()
endfunction()

# syncbridge_install_program(<target>): with SYNCBRIDGE_INSTALL, installs a program into bin/.
# Linked to the shared libraries, it finds them in the prefix's lib/ (RUNPATH relative to the
# program), wherever the prefix is and without ldconfig.
function(syncbridge_install_program target)
  if(NOT SYNCBRIDGE_INSTALL)
    return()
  endif()
  if(BUILD_SHARED_LIBS)
    file(RELATIVE_PATH bin_to_lib ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN/${bin_to_lib}")
  endif()
  install(TARGETS ${target} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endfunction()
