/*
 * tp_formats: see tp_formats.h.
 */
#include "tp_formats.h"

const char TP_FORMAT_ENTER_MMAP[] =
    "name: sys_enter_mmap\n"
    "ID: 174\n"
    "format:\n"
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
    "\n"
    "\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n"
    "\tfield:unsigned long addr;\toffset:16;\tsize:8;\tsigned:0;\n"
    "\tfield:unsigned long len;\toffset:24;\tsize:8;\tsigned:0;\n"
    "\tfield:unsigned long prot;\toffset:32;\tsize:8;\tsigned:0;\n"
    "\tfield:unsigned long flags;\toffset:40;\tsize:8;\tsigned:0;\n"
    "\tfield:unsigned long fd;\toffset:48;\tsize:8;\tsigned:0;\n"
    "\tfield:unsigned long off;\toffset:56;\tsize:8;\tsigned:0;\n"
    "\n"
    "print fmt: \"addr: 0x%08lx, len: 0x%08lx\", ((unsigned long)(REC->addr))\n";
