/*
 * Unit tests for javaname.c: JVM names and descriptors to Java source form,
 * and what is refused.
 */
#include <stdlib.h>

#include "javaname.h"
#include "unit.h"

static void check_name(int *unit_failed_, const char *klass, const char *method,
                       const char *sig, const char *want)
{
    char *got = javaname_method(klass, method, sig);
    if (want) {
        CHECK_STR(got, want);
    } else {
        CHECK(got == NULL);
    }
    free(got);
}

TEST(methods_in_source_form)
{
    check_name(unit_failed_, "java/nio/ByteBuffer", "allocateDirect", "(I)Ljava/nio/ByteBuffer;",
               "java.nio.ByteBuffer.allocateDirect(int)");
    check_name(unit_failed_, "io/netty/buffer/PoolArena$DirectArena", "newChunk", "(IIII)Lio/netty/buffer/PoolChunk;",
               "io.netty.buffer.PoolArena$DirectArena.newChunk(int, int, int, int)");
    check_name(unit_failed_, "java/nio/DirectByteBuffer", "<init>", "(I)V",
               "java.nio.DirectByteBuffer.<init>(int)");
    check_name(unit_failed_, "Main", "<clinit>", "()V", "Main.<clinit>()");
    check_name(unit_failed_, "a/B", "m", "([[BJ[Ljava/lang/String;ZCSFD)[I",
               "a.B.m(byte[][], long, java.lang.String[], boolean, char, short, float, double)");
}

TEST(bad_names_refused)
{
    check_name(unit_failed_, "java.nio.ByteBuffer", "m", "()V", NULL); /* '.' in a class */
    check_name(unit_failed_, "a//B", "m", "()V", NULL);
    check_name(unit_failed_, "/a/B", "m", "()V", NULL);
    check_name(unit_failed_, "", "m", "()V", NULL);
    check_name(unit_failed_, "a/B", "", "()V", NULL);
    check_name(unit_failed_, "a/B", "<weird>", "()V", NULL);
    check_name(unit_failed_, "a/B", "m;", "()V", NULL);
    check_name(unit_failed_, "a/B", "m", "V", NULL);         /* no parameter list */
    check_name(unit_failed_, "a/B", "m", "(I)", NULL);       /* no return type */
    check_name(unit_failed_, "a/B", "m", "(V)V", NULL);      /* void parameter */
    check_name(unit_failed_, "a/B", "m", "(Q)V", NULL);      /* unknown type */
    check_name(unit_failed_, "a/B", "m", "(L;)V", NULL);     /* empty class name */
    check_name(unit_failed_, "a/B", "m", "(Ljava/lang/String)V", NULL); /* no ';' */
    check_name(unit_failed_, "a/B", "m", "()VX", NULL);      /* trailing bytes */
    check_name(unit_failed_, "a/B", "m", "(I", NULL);
}

UNIT_MAIN(UNIT_CASE(methods_in_source_form), UNIT_CASE(bad_names_refused))
