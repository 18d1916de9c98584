/* The smallest possible user exception handler: resume at once. This is the
   kernel primitive the exception_roundtrip row measures (ExOS's C++ dispatch
   adds to it; see exception_roundtrip_exos). */
  .text
  .global bench_resume_handler
bench_resume_handler:
  jmp exos_exception_resume

  .section .note.GNU-stack, "", @progbits
