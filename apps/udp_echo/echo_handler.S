// The safe handler's object file (echo_handler.c, compiled for the BPF
// target by apps/CMakeLists.txt), embedded as read-only data.
  .section .rodata
  .balign 8
  .globl echo_handler_object, echo_handler_object_end
echo_handler_object:
  .incbin ECHO_HANDLER_OBJECT
echo_handler_object_end:
  .section .note.GNU-stack, "", @progbits
