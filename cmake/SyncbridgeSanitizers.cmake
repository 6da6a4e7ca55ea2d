# Applies SYNCBRIDGE_SANITIZER to everything built in this project (libraries, tests, samples),
# since a sanitizer runtime must see every translation unit that touches shared state.
if(SYNCBRIDGE_SANITIZER STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
elseif(SYNCBRIDGE_SANITIZER STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT SYNCBRIDGE_SANITIZER STREQUAL "")
  message(FATAL_ERROR "SYNCBRIDGE_SANITIZER must be '', 'address' or 'thread', not '${SYNCBRIDGE_SANITIZER}'")
endif()
