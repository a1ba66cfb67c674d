/*
 * xlat: names for the numbers that the memory-map syscalls take and return
 * (PROT_*, MAP_*, MREMAP_*, errno values, signal numbers).
 *
 * Everything is a lookup in a {value, name} table so that adding a flag is
 * one line. Values come from the system headers where they exist there;
 * the few the headers may lack are spelled out with the kernel's numbers,
 * because the tracee's kernel, not our libc, decides what a bit means.
 */
#include "xlat.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

struct xlat {
    unsigned long value;
    const char *name;
};

#define X(v) {(unsigned long)(v), #v}
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Kernel ABI values that older userspace headers may not define. */
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_UNINITIALIZED /* in <linux/mman.h>, not glibc's <sys/mman.h> */
#define MAP_UNINITIALIZED 0x4000000
#endif
#ifndef PROT_SEM /* likewise */
#define PROT_SEM 0x8
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MAP_HUGE_MASK
#define MAP_HUGE_MASK 0x3f
#endif

static const struct xlat prot_bits[] = {
    X(PROT_READ), X(PROT_WRITE), X(PROT_EXEC), X(PROT_SEM),
    X(PROT_GROWSDOWN), X(PROT_GROWSUP),
};

static const struct xlat map_types[] = {
    X(MAP_SHARED), X(MAP_PRIVATE), X(MAP_SHARED_VALIDATE),
};

static const struct xlat map_bits[] = {
    X(MAP_FIXED), X(MAP_ANONYMOUS), X(MAP_GROWSDOWN),
    X(MAP_DENYWRITE), X(MAP_EXECUTABLE), X(MAP_LOCKED), X(MAP_NORESERVE),
    X(MAP_POPULATE), X(MAP_NONBLOCK), X(MAP_STACK), X(MAP_HUGETLB),
    X(MAP_SYNC), X(MAP_FIXED_NOREPLACE),
    X(MAP_UNINITIALIZED),
    X(MAP_32BIT),
};

/* Indexed by log2 of the huge page size, as MAP_HUGE_* encodes it. */
static const struct xlat map_huge_sizes[] = {
    {14, "MAP_HUGE_16KB"}, {16, "MAP_HUGE_64KB"},  {19, "MAP_HUGE_512KB"},
    {20, "MAP_HUGE_1MB"},  {21, "MAP_HUGE_2MB"},   {23, "MAP_HUGE_8MB"},
    {24, "MAP_HUGE_16MB"}, {25, "MAP_HUGE_32MB"},  {28, "MAP_HUGE_256MB"},
    {29, "MAP_HUGE_512MB"}, {30, "MAP_HUGE_1GB"},  {31, "MAP_HUGE_2GB"},
    {34, "MAP_HUGE_16GB"},
};

static const struct xlat mremap_bits[] = {
    X(MREMAP_MAYMOVE), X(MREMAP_FIXED), X(MREMAP_DONTUNMAP),
};

/* First entry wins for aliases (EAGAIN over EWOULDBLOCK, EDEADLK over
 * EDEADLOCK, EOPNOTSUPP over ENOTSUP), matching what strace prints. */
static const struct xlat errno_names[] = {
    X(EPERM), X(ENOENT), X(ESRCH), X(EINTR), X(EIO), X(ENXIO), X(E2BIG),
    X(ENOEXEC), X(EBADF), X(ECHILD), X(EAGAIN), X(ENOMEM), X(EACCES),
    X(EFAULT), X(ENOTBLK), X(EBUSY), X(EEXIST), X(EXDEV), X(ENODEV),
    X(ENOTDIR), X(EISDIR), X(EINVAL), X(ENFILE), X(EMFILE), X(ENOTTY),
    X(ETXTBSY), X(EFBIG), X(ENOSPC), X(ESPIPE), X(EROFS), X(EMLINK),
    X(EPIPE), X(EDOM), X(ERANGE), X(EDEADLK), X(ENAMETOOLONG), X(ENOLCK),
    X(ENOSYS), X(ENOTEMPTY), X(ELOOP), X(ENOMSG), X(EIDRM), X(ECHRNG),
    X(EL2NSYNC), X(EL3HLT), X(EL3RST), X(ELNRNG), X(EUNATCH), X(ENOCSI),
    X(EL2HLT), X(EBADE), X(EBADR), X(EXFULL), X(ENOANO), X(EBADRQC),
    X(EBADSLT), X(EBFONT), X(ENOSTR), X(ENODATA), X(ETIME), X(ENOSR),
    X(ENONET), X(ENOPKG), X(EREMOTE), X(ENOLINK), X(EADV), X(ESRMNT),
    X(ECOMM), X(EPROTO), X(EMULTIHOP), X(EDOTDOT), X(EBADMSG),
    X(EOVERFLOW), X(ENOTUNIQ), X(EBADFD), X(EREMCHG), X(ELIBACC),
    X(ELIBBAD), X(ELIBSCN), X(ELIBMAX), X(ELIBEXEC), X(EILSEQ),
    X(ERESTART), X(ESTRPIPE), X(EUSERS), X(ENOTSOCK), X(EDESTADDRREQ),
    X(EMSGSIZE), X(EPROTOTYPE), X(ENOPROTOOPT), X(EPROTONOSUPPORT),
    X(ESOCKTNOSUPPORT), X(EOPNOTSUPP), X(EPFNOSUPPORT), X(EAFNOSUPPORT),
    X(EADDRINUSE), X(EADDRNOTAVAIL), X(ENETDOWN), X(ENETUNREACH),
    X(ENETRESET), X(ECONNABORTED), X(ECONNRESET), X(ENOBUFS), X(EISCONN),
    X(ENOTCONN), X(ESHUTDOWN), X(ETOOMANYREFS), X(ETIMEDOUT),
    X(ECONNREFUSED), X(EHOSTDOWN), X(EHOSTUNREACH), X(EALREADY),
    X(EINPROGRESS), X(ESTALE), X(EUCLEAN), X(ENOTNAM), X(ENAVAIL),
    X(EISNAM), X(EREMOTEIO), X(EDQUOT), X(ENOMEDIUM), X(EMEDIUMTYPE),
    X(ECANCELED), X(ENOKEY), X(EKEYEXPIRED), X(EKEYREVOKED),
    X(EKEYREJECTED), X(EOWNERDEAD), X(ENOTRECOVERABLE), X(ERFKILL),
    X(EHWPOISON),
    /* Kernel-internal values that a tracer sees in a syscall's return
     * value while a signal interrupts it; no userspace header has them. */
    {512, "ERESTARTSYS"}, {513, "ERESTARTNOINTR"}, {514, "ERESTARTNOHAND"},
    {515, "ENOIOCTLCMD"}, {516, "ERESTART_RESTARTBLOCK"},
    {517, "EPROBE_DEFER"}, {518, "EOPENSTALE"}, {519, "ENOPARAM"},
    {521, "EBADHANDLE"}, {522, "ENOTSYNC"}, {523, "EBADCOOKIE"},
    {524, "ENOTSUPP"}, {525, "ETOOSMALL"}, {526, "ESERVERFAULT"},
    {527, "EBADTYPE"}, {528, "EJUKEBOX"}, {529, "EIOCBQUEUED"},
    {530, "ERECALLCONFLICT"},
};

/* Numbers are the kernel's (x86, arm, riscv and most others agree). */
static const struct xlat signal_names[] = {
    {1, "SIGHUP"},   {2, "SIGINT"},     {3, "SIGQUIT"},   {4, "SIGILL"},
    {5, "SIGTRAP"},  {6, "SIGABRT"},    {7, "SIGBUS"},    {8, "SIGFPE"},
    {9, "SIGKILL"},  {10, "SIGUSR1"},   {11, "SIGSEGV"},  {12, "SIGUSR2"},
    {13, "SIGPIPE"}, {14, "SIGALRM"},   {15, "SIGTERM"},  {16, "SIGSTKFLT"},
    {17, "SIGCHLD"}, {18, "SIGCONT"},   {19, "SIGSTOP"},  {20, "SIGTSTP"},
    {21, "SIGTTIN"}, {22, "SIGTTOU"},   {23, "SIGURG"},   {24, "SIGXCPU"},
    {25, "SIGXFSZ"}, {26, "SIGVTALRM"}, {27, "SIGPROF"},  {28, "SIGWINCH"},
    {29, "SIGIO"},   {30, "SIGPWR"},    {31, "SIGSYS"},
};

/* The kernel's first real-time signal. glibc's SIGRTMIN is 34 because it
 * keeps two for itself, but a tracee may be anything, so names are given
 * relative to what the kernel delivers. */
#define KERNEL_SIGRTMIN 32
#define KERNEL_SIGRTMAX 64

static const char *const rt_signal_names[] = {
    "SIGRTMIN",    "SIGRTMIN+1",  "SIGRTMIN+2",  "SIGRTMIN+3",  "SIGRTMIN+4",
    "SIGRTMIN+5",  "SIGRTMIN+6",  "SIGRTMIN+7",  "SIGRTMIN+8",  "SIGRTMIN+9",
    "SIGRTMIN+10", "SIGRTMIN+11", "SIGRTMIN+12", "SIGRTMIN+13", "SIGRTMIN+14",
    "SIGRTMIN+15", "SIGRTMIN+16", "SIGRTMIN+17", "SIGRTMIN+18", "SIGRTMIN+19",
    "SIGRTMIN+20", "SIGRTMIN+21", "SIGRTMIN+22", "SIGRTMIN+23", "SIGRTMIN+24",
    "SIGRTMIN+25", "SIGRTMIN+26", "SIGRTMIN+27", "SIGRTMIN+28", "SIGRTMIN+29",
    "SIGRTMIN+30", "SIGRTMIN+31", "SIGRTMIN+32",
};

_Static_assert(ARRAY_LEN(rt_signal_names) == KERNEL_SIGRTMAX - KERNEL_SIGRTMIN + 1,
               "one name per real-time signal");

static const char *lookup(const struct xlat *table, size_t n, unsigned long value)
{
    for (size_t i = 0; i < n; i++)
        if (table[i].value == value)
            return table[i].name;
    return NULL;
}

/* A bounded appender: keeps the buffer NUL-terminated and truncates
 * instead of overflowing, so callers can size buffers by the header's
 * promise and still be safe if a tracee passes every bit set. */
struct sbuf {
    char *buf;
    size_t size, len;
    bool any; /* a name has been written: the next one needs a '|' */
};

static void sbuf_init(struct sbuf *s, char *buf, size_t size)
{
    s->buf = buf;
    s->size = size;
    s->len = 0;
    s->any = false;
    if (size > 0)
        buf[0] = '\0';
}

static void sbuf_put(struct sbuf *s, const char *text)
{
    if (s->size == 0)
        return;
    size_t n = strlen(text);
    size_t room = s->size - 1 - s->len;
    if (n > room)
        n = room;
    memcpy(s->buf + s->len, text, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

static void sbuf_flag(struct sbuf *s, const char *name)
{
    if (s->any)
        sbuf_put(s, "|");
    sbuf_put(s, name);
    s->any = true;
}

static void sbuf_hex(struct sbuf *s, unsigned long value)
{
    char hex[2 + 16 + 1];
    snprintf(hex, sizeof hex, "%#lx", value);
    sbuf_flag(s, hex);
}

/* Names every bit of value that the table knows; returns the rest. */
static unsigned long put_bits(struct sbuf *s, const struct xlat *table, size_t n,
                              unsigned long value)
{
    for (size_t i = 0; i < n; i++) {
        if (table[i].value != 0 && (value & table[i].value) == table[i].value) {
            sbuf_flag(s, table[i].name);
            value &= ~table[i].value;
        }
    }
    return value;
}

const char *xlat_prot(unsigned long prot, char *buf, size_t size)
{
    struct sbuf s;
    sbuf_init(&s, buf, size);
    if (prot == 0) {
        sbuf_put(&s, "PROT_NONE");
        return buf;
    }
    unsigned long rest = put_bits(&s, prot_bits, ARRAY_LEN(prot_bits), prot);
    if (rest)
        sbuf_hex(&s, rest);
    return buf;
}

const char *xlat_prot_short(unsigned long prot, char buf[4])
{
    buf[0] = (prot & PROT_READ) ? 'r' : '-';
    buf[1] = (prot & PROT_WRITE) ? 'w' : '-';
    buf[2] = (prot & PROT_EXEC) ? 'x' : '-';
    buf[3] = '\0';
    return buf;
}

const char *xlat_map_flags(unsigned long flags, char *buf, size_t size)
{
    struct sbuf s;
    sbuf_init(&s, buf, size);
    if (flags == 0) {
        sbuf_put(&s, "0");
        return buf;
    }

    unsigned long unknown = 0;
    unsigned long type = flags & MAP_TYPE;
    if (type != 0) {
        const char *name = lookup(map_types, ARRAY_LEN(map_types), type);
        if (name)
            sbuf_flag(&s, name);
        else
            unknown |= type;
    }
    unsigned long rest = flags & ~(unsigned long)MAP_TYPE;

    /* The kernel reads the page-size field only together with MAP_HUGETLB;
     * without it those bits are plain flags (MAP_UNINITIALIZED is one). */
    unsigned long huge_field = (unsigned long)MAP_HUGE_MASK << MAP_HUGE_SHIFT;
    unsigned long huge = 0;
    if ((rest & MAP_HUGETLB) && (rest & huge_field)) {
        huge = (rest & huge_field) >> MAP_HUGE_SHIFT;
        rest &= ~huge_field;
    }

    rest = put_bits(&s, map_bits, ARRAY_LEN(map_bits), rest);

    if (huge) {
        const char *name = lookup(map_huge_sizes, ARRAY_LEN(map_huge_sizes), huge);
        if (name) {
            sbuf_flag(&s, name);
        } else {
            char text[32];
            snprintf(text, sizeof text, "%lu<<MAP_HUGE_SHIFT", huge);
            sbuf_flag(&s, text);
        }
    }
    unknown |= rest;
    if (unknown)
        sbuf_hex(&s, unknown);
    return buf;
}

const char *xlat_mremap_flags(unsigned long flags, char *buf, size_t size)
{
    struct sbuf s;
    sbuf_init(&s, buf, size);
    if (flags == 0) {
        sbuf_put(&s, "0");
        return buf;
    }
    unsigned long rest = put_bits(&s, mremap_bits, ARRAY_LEN(mremap_bits), flags);
    if (rest)
        sbuf_hex(&s, rest);
    return buf;
}

const char *xlat_errno_name(int err)
{
    if (err <= 0)
        return NULL;
    return lookup(errno_names, ARRAY_LEN(errno_names), (unsigned long)err);
}

const char *xlat_signal_name(int sig)
{
    if (sig >= KERNEL_SIGRTMIN && sig <= KERNEL_SIGRTMAX)
        return rt_signal_names[sig - KERNEL_SIGRTMIN];
    if (sig <= 0)
        return NULL;
    return lookup(signal_names, ARRAY_LEN(signal_names), (unsigned long)sig);
}
