/*
 * decode: raw syscall numbers and registers -> struct map_call.
 * See include/decode.h. Both ABIs of include/syscalls.h: their numbers
 * come from that table.
 */
#include "decode.h"

#include <string.h>

#include "syscalls.h"

#define PAGE_SIZE_BYTES 4096ULL

uint64_t decode_page_align(uint64_t len)
{
    if (len > UINT64_MAX - (PAGE_SIZE_BYTES - 1))
        return UINT64_MAX & ~(PAGE_SIZE_BYTES - 1);
    return (len + PAGE_SIZE_BYTES - 1) & ~(PAGE_SIZE_BYTES - 1);
}

static enum map_call_kind kind_of(uint32_t arch, uint64_t nr)
{
    switch (syscall_lookup(arch, nr)) {
    case SC_MMAP:
        return MAP_CALL_MMAP;
    case SC_MUNMAP:
        return MAP_CALL_MUNMAP;
    case SC_MREMAP:
        return MAP_CALL_MREMAP;
    case SC_MPROTECT:
    case SC_PKEY_MPROTECT:
        return MAP_CALL_MPROTECT;
    case SC_BRK:
        return MAP_CALL_BRK;
    default:
        return MAP_CALL_NONE;
    }
}

bool decode_is_map_syscall(uint32_t arch, uint64_t nr)
{
    return kind_of(arch, nr) != MAP_CALL_NONE;
}

enum map_call_kind decode_map_call(uint32_t arch, uint64_t nr, const uint64_t args[6],
                                   int64_t rval, bool is_error, struct map_call *call)
{
    memset(call, 0, sizeof *call);
    call->kind = kind_of(arch, nr);
    call->failed = is_error;
    call->error = is_error ? (int)-rval : 0;
    call->result = (uint64_t)rval;
    if (arch == DECODE_ARCH_I386 && !is_error) /* a 32-bit address */
        call->result = (uint32_t)rval;
    switch (call->kind) {
    case MAP_CALL_MMAP:
        call->addr = args[0];
        call->len = args[1];
        call->prot = args[2];
        call->flags = args[3];
        /* The kernel takes fd as an int: only the low 32 bits count. */
        call->fd = (int32_t)(uint32_t)args[4];
        call->offset = args[5];
        if (arch == DECODE_ARCH_I386) /* mmap2 takes the offset in pages */
            call->offset = args[5] * PAGE_SIZE_BYTES;
        break;
    case MAP_CALL_MUNMAP:
        call->addr = args[0];
        call->len = args[1];
        break;
    case MAP_CALL_MREMAP:
        call->addr = args[0];
        call->len = args[1];
        call->new_len = args[2];
        call->flags = args[3];
        call->new_addr_arg = args[4];
        break;
    case MAP_CALL_MPROTECT:
        call->addr = args[0];
        call->len = args[1];
        call->prot = args[2];
        break;
    case MAP_CALL_BRK:
        call->addr = args[0];
        break;
    case MAP_CALL_NONE:
        break;
    }
    return call->kind;
}
