/* Writing safe handlers (ASH) in C, for clang -target bpf -O2.
 *
 *   #include "exos/ash.h"
 *   ASH_HANDLER uint64_t my_handler(const uint8_t* frame, uint64_t len, uint8_t* buf) { ... }
 *
 * The handler goes into the ELF section "handler", which ExOS's loader
 * (exos/handler_elf.h) hands to the kernel. The verifier accepts what it can
 * prove safe: compare `len` with a constant (or a bounded value) before
 * reading frame bytes, keep buffer offsets within the granted size, write
 * loops whose exit it can see. No global variables, no calls other than
 * these helpers. */
#pragma once

#include <stdint.h>

#include "veneer/handler.h"

#define ASH_HANDLER __attribute__((section("handler"), used))

/* Helper calls: clang turns a call through a constant function pointer into
 * `call <number>`. Arguments are offsets and lengths, never pointers. */
static int64_t (*const ash_copy_frame)(uint64_t buf_off, uint64_t frame_off, uint64_t len) =
    (void*)VENEER_HELPER_COPY_FRAME;
static int64_t (*const ash_send_reply)(uint64_t buf_off, uint64_t len) = (void*)VENEER_HELPER_SEND_REPLY;
static int64_t (*const ash_wake_env)(uint64_t value) = (void*)VENEER_HELPER_WAKE_ENV;
static uint64_t (*const ash_checksum)(uint64_t region, uint64_t off, uint64_t len, uint64_t seed) =
    (void*)VENEER_HELPER_CHECKSUM;

/* Return values (veneer/handler.h): the frame was dealt with, or deliver it
 * to the env as well. */
#define ASH_CONSUMED VENEER_ASH_CONSUMED
#define ASH_DELIVER VENEER_ASH_DELIVER
