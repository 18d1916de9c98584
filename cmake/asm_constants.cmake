# veneer_asm_constants(TARGET SOURCE OUTPUT): compiles SOURCE (a file of
# ASM_CONST lines, abi/asm_constants.h) to assembly and extracts a header of
# #defines at ${VENEER_GEN}/OUTPUT for .S files. TARGET builds it.
set(VENEER_GEN ${CMAKE_BINARY_DIR}/gen)
function(veneer_asm_constants target source output)
  set(out ${VENEER_GEN}/${output})
  get_filename_component(dir ${out} DIRECTORY)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
    COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -ffreestanding -fno-exceptions -fno-rtti -O2 -S
      -I${VENEER_ROOT} -I${VENEER_ROOT}/abi -MD -MF ${out}.d -MT ${out} ${source} -o ${out}.s
    COMMAND ${Python3_EXECUTABLE} ${VENEER_ROOT}/tools/asm_constants.py ${out}.s ${out} ${source}
    DEPENDS ${source} ${VENEER_ROOT}/tools/asm_constants.py
    DEPFILE ${out}.d
    COMMENT "Generating ${output} (constants for assembly)")
  add_custom_target(${target} DEPENDS ${out})
endfunction()
