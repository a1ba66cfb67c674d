/*
 * javaname: a Java method as people read it, from the three names the JVM
 * keeps for it: the holder class's internal name ("java/nio/ByteBuffer"),
 * the method name ("allocateDirect") and its descriptor ("(I)Ljava/nio/
 * ByteBuffer;"), giving "java.nio.ByteBuffer.allocateDirect(int)".
 *
 * The names come from the target's memory: each is checked against the
 * JVM specification's rules (JVMS 4.2, 4.3) and refused when it breaks
 * them, so that bytes that are not a method's names never read as one.
 *
 * Pure; any thread.
 */
#ifndef MMAPWATCH_JAVANAME_H
#define MMAPWATCH_JAVANAME_H

/* Each part is at most this long (longer names are refused). */
#define JAVANAME_PART_MAX 512

/* "pkg.Class.method(int, byte[])", malloc'd; NULL when a name does not
 * parse (or memory ran out). The return type is checked, not shown. */
char *javaname_method(const char *klass, const char *method, const char *signature);

#endif
