// ASM_CONST(NAME, value) inside a function of a file compiled with -S leaves
// "->NAME value" in the assembly; tools/asm_constants.py makes a header of
// #defines from it (cmake/asm_constants.cmake), so .S files use the values
// the C++ headers define instead of repeating them.
#pragma once

#define ASM_CONST(name, value) \
  asm volatile(".ascii \"->" #name " %0\\n\"" ::"i"(static_cast<long long>(value)))
