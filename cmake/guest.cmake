# veneer_user_program(NAME [LINKED_AT ADDRESS] SOURCES...): a freestanding
# ring-3 ELF that links ExOS. Output: ${CMAKE_CURRENT_BINARY_DIR}/NAME.elf
# Programs are linked at 0x400000; LINKED_AT puts one elsewhere (above 2 GiB:
# it is built position-independent, with ExOS's exos_pie build).
function(veneer_user_program name)
  cmake_parse_arguments(PARSE_ARGV 1 UP "" "LINKED_AT" "")
  add_executable(${name} ${UP_UNPARSED_ARGUMENTS})
  set_target_properties(${name} PROPERTIES SUFFIX ".elf")
  target_include_directories(${name} PRIVATE ${VENEER_INCLUDES} ${VENEER_ROOT}/libos/include)
  target_compile_options(${name} PRIVATE ${VENEER_FREESTANDING_FLAGS})
  target_link_options(${name} PRIVATE -nostdlib -static -no-pie
    -Wl,-z,max-page-size=0x1000 -Wl,--build-id=none -Wl,-e,_start -Wl,-u,_start)
  if(UP_LINKED_AT)
    target_compile_options(${name} PRIVATE -fPIE)
    target_link_options(${name} PRIVATE -Wl,-Ttext-segment=${UP_LINKED_AT} -Wl,--no-relax)
    target_link_libraries(${name} PRIVATE exos_pie gcc)
  else()
    target_link_libraries(${name} PRIVATE exos gcc)
  endif()
  add_dependencies(${name} abi_asm_constants)
endfunction()
