# syncbridge_set_warnings(<target>): the project's warning set, errors with SYNCBRIDGE_WERROR.
function(syncbridge_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                         -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wconversion -Wno-sign-conversion
                         -Wimplicit-fallthrough -Wformat=2)
  if(SYNCBRIDGE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
