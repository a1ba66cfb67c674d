/*
 * Unit tests for tracefs.c's format parser and field reader, on format
 * texts as the kernel writes them (sys_enter_mmap, sys_exit_mmap, and a
 * pkey_mprotect whose int field is 8 bytes wide), and on broken ones.
 */
#include <stdint.h>

#include "tp_formats.h"
#include "tracefs.h"
#include "unit.h"

static const char EXIT_MMAP[] =
    "name: sys_exit_mmap\n"
    "ID: 173\n"
    "format:\n"
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
    "\n"
    "\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n"
    "\tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n"
    "\n"
    "print fmt: \"0x%lx\", REC->ret\n";

TEST(parses_enter_mmap)
{
    struct tp_format f;
    CHECK(tracefs_parse_format(TP_FORMAT_ENTER_MMAP, &f) == 0);
    CHECK_STR(f.name, "sys_enter_mmap");
    CHECK_U64(f.id, 174);
    CHECK_U64(f.nfields, 11);
    const struct tp_field *len = tp_format_field(&f, "len");
    CHECK(len != NULL);
    CHECK_U64(len->offset, 24);
    CHECK_U64(len->size, 8);
    CHECK(!len->is_signed);
    const struct tp_field *nr = tp_format_field(&f, "__syscall_nr");
    CHECK(nr && nr->offset == 8 && nr->size == 4 && nr->is_signed);
    CHECK(tp_format_field(&f, "off") && tp_format_field(&f, "off")->offset == 56);
    CHECK(tp_format_field(&f, "nosuch") == NULL);
}

TEST(reads_fields_with_sign)
{
    struct tp_format f;
    CHECK(tracefs_parse_format(EXIT_MMAP, &f) == 0);
    unsigned char raw[24] = {0};
    int32_t nr = 9;
    int64_t ret = -12; /* -ENOMEM */
    memcpy(raw + 8, &nr, 4);
    memcpy(raw + 16, &ret, 8);
    uint64_t v;
    CHECK(tp_field_get(tp_format_field(&f, "__syscall_nr"), raw, sizeof raw, &v));
    CHECK_U64(v, 9);
    CHECK(tp_field_get(tp_format_field(&f, "ret"), raw, sizeof raw, &v));
    CHECK((int64_t)v == -12);
    /* A negative 4-byte signed field is sign-extended. */
    nr = -1;
    memcpy(raw + 8, &nr, 4);
    CHECK(tp_field_get(tp_format_field(&f, "__syscall_nr"), raw, sizeof raw, &v));
    CHECK((int64_t)v == -1);
    /* A record too short for the field is refused, not read past. */
    CHECK(!tp_field_get(tp_format_field(&f, "ret"), raw, 20, &v));
}

TEST(array_and_pointer_names)
{
    static const char text[] = "name: x\nID: 7\nformat:\n"
                               "\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:1;\n"
                               "\tfield:const char *const * argv;\toffset:24;\tsize:8;\tsigned:0;\n";
    struct tp_format f;
    CHECK(tracefs_parse_format(text, &f) == 0);
    CHECK_STR(f.fields[0].name, "comm");
    CHECK_STR(f.fields[1].name, "argv");
    uint64_t v;
    unsigned char raw[32] = {0};
    CHECK(!tp_field_get(&f.fields[0], raw, sizeof raw, &v)); /* not a scalar */
}

TEST(rejects_broken_formats)
{
    struct tp_format f;
    CHECK(tracefs_parse_format("", &f) < 0);
    CHECK(tracefs_parse_format("name: x\nformat:\n\tfield:int a;\toffset:0;\tsize:4;\tsigned:1;\n",
                               &f) < 0); /* no ID */
    CHECK(tracefs_parse_format("name: x\nID: 3\n", &f) < 0); /* no field */
    CHECK(tracefs_parse_format("name: x\nID: 3\n\tfield:int a;\toffset:zero;\tsize:4;\tsigned:1;\n",
                               &f) < 0);
    CHECK(tracefs_parse_format("name: x\nID: 3\n\tfield:int a;\toffset:0;\tsize:4;\tsigned:7;\n",
                               &f) < 0);
    CHECK(tracefs_parse_format("name: x\nID: 3\n\tfield:int a\toffset:0;\tsize:4;\tsigned:1;\n",
                               &f) < 0); /* no ';' after the declaration */
    char many[4096] = "name: x\nID: 3\n";
    for (int i = 0; i < TP_FIELDS_MAX + 1; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many),
                 "\tfield:int f%d;\toffset:%d;\tsize:4;\tsigned:1;\n", i, i * 4);
    CHECK(tracefs_parse_format(many, &f) < 0);
}

UNIT_MAIN(UNIT_CASE(parses_enter_mmap), UNIT_CASE(reads_fields_with_sign),
          UNIT_CASE(array_and_pointer_names), UNIT_CASE(rejects_broken_formats))
