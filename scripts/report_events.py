#!/usr/bin/env python3
"""report_events.py N [SEED]: writes N lines of a synthetic events file to
stdout, shaped like `mmapwatch -k --strings --json` on a busy JVM: 300
threads, 40 call stacks of 12 to 40 frames (native and Java), mmaps,
munmaps, a few mremaps, dumps with strings, a few threshold events. Used by
scripts/bench.sh (workload "report") to time `mmapwatch report` and the
page; deterministic for a given seed."""
import json
import random
import sys


def main():
    n = int(sys.argv[1])
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    pid = 4242
    threads = [(pid + 1 + i, f"{rng.choice(['grpc-nio-w', 'pool-1-thread', 'kafka-io', 'C2 Comp'])}-{i}"[:15])
               for i in range(300)]
    java = ["io.netty.buffer.PoolArena.allocate", "io.netty.buffer.PooledByteBufAllocator.newDirectBuffer",
            "java.nio.DirectByteBuffer.<init>", "org.apache.kafka.common.network.NetworkReceive.readFrom",
            "io.grpc.netty.NettyServerHandler.onDataRead", "com.example.Cache.load", "java.lang.Thread.run"]
    native = [("os::malloc(unsigned long, MEMFLAGS)", "/usr/lib/jvm/lib/server/libjvm.so"),
              ("Unsafe_AllocateMemory0", "/usr/lib/jvm/lib/server/libjvm.so"),
              ("arena_get2", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
              ("ZSTD_compress", "/usr/lib/libzstd.so.1")]
    stacks = []
    for _ in range(40):
        frames = [{"ip": "0x7f00000013", "symbol": "__mmap+0x13", "module": "/usr/lib/x86_64-linux-gnu/libc.so.6"}]
        for _ in range(rng.randint(1, 4)):
            s, m = rng.choice(native)
            frames.append({"ip": hex(rng.randrange(1 << 40)), "symbol": s + "+0x1f", "module": m})
        for _ in range(rng.randint(10, 35)):
            frames.append({"ip": hex(rng.randrange(1 << 40)), "symbol": rng.choice(java), "module": None})
        frames.append({"ip": "0x7f00000099", "symbol": "start_thread+0x305", "module": "/usr/lib/x86_64-linux-gnu/libc.so.6"})
        stacks.append(frames)
    live = []
    next_addr = 0x7e0000000000
    t = 1767225600.0

    def base(kind, tid, comm):
        return {"event": kind, "ts": "%s.%06dZ" % (
            __import__("time").strftime("%Y-%m-%dT%H:%M:%S", __import__("time").gmtime(int(t))),
            int((t % 1) * 1e6)), "pid": pid, "tid": tid, "comm": comm}

    out = sys.stdout
    out.write(json.dumps(base("exec", pid, "java") | {"regions_ended": 0}) + "\n")
    for i in range(1, n):
        t += rng.expovariate(n / 600.0)
        tid, comm = rng.choice(threads)
        r = rng.random()
        if r < 0.45 or not live:
            size = rng.choice([16 << 20, (16 << 20) + 4096, 64 << 20, 1 << 20, 2 << 20])
            addr = next_addr
            next_addr += size + (1 << 20)
            live.append((addr, size, tid, comm))
            ev = base("mmap", tid, comm) | {"addr": hex(addr), "len": size, "prot": "rw-",
                                             "flags": "MAP_PRIVATE|MAP_ANONYMOUS", "fd": -1,
                                             "offset": 0, "stack": rng.choice(stacks)}
        elif r < 0.83:
            addr, size, _, _ = live.pop(rng.randrange(len(live)))
            ev = base("munmap", tid, comm) | {"addr": hex(addr), "len": size}
        elif r < 0.88:
            k = rng.randrange(len(live))
            addr, size, mtid, mcomm = live[k]
            new = size * 2
            live[k] = (next_addr, new, mtid, mcomm)
            ev = base("mremap", tid, comm) | {"old_addr": hex(addr), "old_len": size,
                                               "addr": hex(next_addr), "len": new,
                                               "flags": "MREMAP_MAYMOVE"}
            next_addr += new + (1 << 20)
        elif i % (n // 5) != 0:
            addr, size, mtid, mcomm = rng.choice(live)
            ev = base("dump", mtid, mcomm) | {
                "addr": hex(addr), "len": size, "path": f"dumps/{pid}-{addr:x}-{size}-1.bin",
                "bytes": size // 8, "resident": size // 8, "reason": "delay",
                "strings": [{"text": f"GET /api/v1/items/{rng.randrange(10000)} HTTP/1.1", "count": rng.randrange(1, 50)}
                            for _ in range(10)]}
        else:
            ev = base("threshold", pid, "java") | {"cgroup": "/kubepods/pod1", "state": "above",
                                                   "usage": 900 << 20, "limit": 1 << 30,
                                                   "threshold": 800 << 20, "regions": []}
        out.write(json.dumps(ev, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
