#!/usr/bin/env python3
"""Turns the constants a C++ file emitted into its assembly (lines
`.ascii "->NAME $VALUE"`, see ASM_CONST in abi/asm_constants.h) into a header of
#defines for .S files: the C++ headers stay the one source of truth.

  asm_constants.py compiled.s output.h source.cc
"""
import re
import sys


def main():
    asm, out, source = sys.argv[1:4]
    pairs = re.findall(r'->(\w+) \$?(-?\d+)', open(asm).read())
    if not pairs:
        sys.exit(f"asm_constants.py: no constants found in {asm}")
    guard = re.sub(r'\W', '_', out.split('/gen/')[-1]).upper()
    lines = [f"/* Generated from {source} by tools/asm_constants.py: do not edit. */",
             f"#ifndef {guard}", f"#define {guard}"]
    lines += [f"#define {name} {value}" for name, value in pairs]
    lines += [f"#endif", ""]
    text = "\n".join(lines)
    try:
        if open(out).read() == text:
            return  # unchanged: keep the timestamp, no needless rebuilds
    except FileNotFoundError:
        pass
    open(out, "w").write(text)


if __name__ == "__main__":
    main()
