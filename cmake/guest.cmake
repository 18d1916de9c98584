# veneer_user_program(NAME SOURCES...): a freestanding ring-3 ELF that links
# ExOS. Output: ${CMAKE_CURRENT_BINARY_DIR}/NAME.elf
function(veneer_user_program name)
  add_executable(${name} ${ARGN})
  set_target_properties(${name} PROPERTIES SUFFIX ".elf")
  target_include_directories(${name} PRIVATE ${VENEER_INCLUDES} ${VENEER_ROOT}/libos/include)
  target_compile_options(${name} PRIVATE ${VENEER_FREESTANDING_FLAGS})
  target_link_options(${name} PRIVATE -nostdlib -static -no-pie
    -Wl,-z,max-page-size=0x1000 -Wl,--build-id=none -Wl,-e,_start -Wl,-u,_start)
  target_link_libraries(${name} PRIVATE exos gcc)
  add_dependencies(${name} abi_asm_constants)
endfunction()
