/*
 * NettyArenas: a real Netty HTTP/2 server and client in one JVM, over
 * 127.0.0.1, for the end-to-end JVM tests (tests/integration/test_jvm.py),
 * the JVM benchmark (scripts/bench.sh jvm) and docs/jvm.md.
 *
 * Built against Debian's libnetty-java (Netty 4.1.48) by the Makefile into
 * build/java. It reproduces the story mmapwatch was built for: Netty's
 * pooled allocator, direct buffers preferred, one direct arena per
 * event-loop thread; the first direct allocation in an arena makes its
 * chunk (pageSize << maxOrder: 16 MiB by default in 4.1.48), which the
 * JDK mallocs and glibc maps with one mmap of chunk + 4 KiB.
 *
 *   java -cp build/java:JARS NettyArenas [--truth FILE] [--wait-stdin]
 *        [--server-loops N] [--client-loops N] [--connections N]
 *        [--requests N] [--churn N] [--bench] [--hold] [--regrow]
 *
 * Event loops: "srv-boss" accepts, "srv-loop-1".."srv-loop-N" serve,
 * "cli-loop-1".."cli-loop-N" are the client's (names shorter than Linux's
 * 15-character thread names, so each stays whole and unique). Each of
 * --connections connections (round-robin over the loops on both sides)
 * sends --requests gRPC-like requests (HEADERS + one DATA frame holding
 * the marker "mmapwatch-probe-c<conn>-r<req>"), one stream at a time; the
 * server answers each with HEADERS and "ok <marker>".
 *
 * Like a leaking server, it keeps some buffers until it exits, so that
 * what the client sent stays in the arenas instead of being overwritten by
 * the next read: the server keeps the first read of each connection (it
 * starts with the HTTP/2 preface "PRI * HTTP/2.0") and its first DATA
 * frame, the client the body of its first request.
 *
 * After the traffic it reads a field through null 10,000 times (HotSpot's
 * SIGSEGV handler turns each into a NullPointerException) and runs three
 * full collections (safepoints), so that a tracer that mishandled the
 * JVM's signals or stops would show in its output or exit status.
 *
 * --truth FILE: what it did, one record a line ("KIND key=value ...", read
 * by harness.read_truth): the allocator, each event loop (name, tid, the
 * arena it is bound to), each chunk of each direct arena (address of its
 * memory, size) and each kept marker with the tid of the thread that holds
 * it. Standard output is the same on every run with the same options (the
 * tests compare it traced and untraced), except for the "ready" line of
 * --wait-stdin and the figures of --bench.
 *
 * --wait-stdin: starts every event-loop thread and binds the server, then
 * prints "ready PID" and waits for one byte on stdin before any traffic (a
 * tracer attaches in between; no chunk exists yet). --bench: prints the
 * requests' time and rate, measured around the traffic only. --hold: at
 * the end, prints "holding" and waits for a byte (or the end) of stdin
 * before it exits, so that its memory can be looked at (docs/jvm.md).
 *
 * --churn N: after the traffic, each server and client event loop
 * allocates a direct buffer of a whole chunk and releases it, N times:
 * every allocation makes a new chunk in its arena (PoolArena.newChunk)
 * and every release frees it, so the allocation path runs often enough
 * for the JIT to compile it (stack tests run it interpreted first, then
 * compiled). The truth gets "churn tid= count= size=" per loop.
 *
 * --regrow: after the traffic, each client loop allocates a direct buffer
 * larger than a chunk (Netty gives it an unpooled chunk of its own) and
 * releases it: its free moves glibc's mmap threshold above 16 MiB, as a
 * long-running server's would. Then it allocates REGROW_BUFFERS buffers
 * of 12 MiB and keeps them, so that new 16 MiB chunks are made, and
 * writes "mmapwatch-regrow-<loop>-<i>" in the middle of each: truth
 * "regrow tid= thread= addr= marker=" (addr: where the marker is).
 *
 * Exits 0 on success, 2 on bad arguments, 1 with a message on anything
 * else (a refused connection, a lost response, a truth that cannot be
 * written).
 */
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PoolArenaMetric;
import io.netty.buffer.PoolChunkListMetric;
import io.netty.buffer.PoolChunkMetric;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2ChannelDuplexHandler;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.internal.PlatformDependent;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

public final class NettyArenas {
    /* Longest the traffic may take before the run is a failure. */
    private static final long TRAFFIC_TIMEOUT_S = 100;
    private static final int NULL_DEREFERENCES = 20000; // half of them through null
    private static final int FULL_GCS = 3;

    private static int serverLoops = 2;
    private static int clientLoops = 2;
    private static int connections = 4;
    private static int requests = 4;
    private static int churn;
    private static boolean waitStdin;
    private static boolean bench;
    private static boolean hold;
    private static boolean regrow;
    private static final int REGROW_BUFFERS = 3;
    private static String truthPath;

    /* Buffers kept until exit (see the top comment), and the truth records
     * about them; touched from every event loop. */
    private static final List<Object> kept = new ArrayList<>();
    private static final List<String> keptTruth = new ArrayList<>();

    private static final AtomicInteger responses = new AtomicInteger();
    private static final AtomicReference<String> failure = new AtomicReference<>();
    private static CountDownLatch done;

    private static void die(String why) {
        System.out.flush();
        System.err.println("NettyArenas: " + why);
        System.exit(1);
    }

    private static void fail(String why) {
        if (failure.compareAndSet(null, why)) {
            // Release main at once: the run has failed.
            while (done.getCount() > 0)
                done.countDown();
        }
    }

    /* WHAT is "preface" (a first read) or "request" (a body, MARKER). */
    private static void keep(Object buf, String what, String marker) {
        synchronized (kept) {
            kept.add(buf);
            keptTruth.add("kept what=" + what + (marker != null ? " marker=" + marker : "")
                          + " tid=" + tid() + " thread=" + Thread.currentThread().getName());
        }
    }

    /* The calling thread's Linux tid: /proc/thread-self is "PID/task/TID". */
    private static long tid() {
        try {
            return Long.parseLong(Files.readSymbolicLink(Paths.get("/proc/thread-self"))
                                  .getFileName().toString());
        } catch (IOException | NumberFormatException e) {
            throw new IllegalStateException("cannot read /proc/thread-self: " + e);
        }
    }

    /* Event-loop threads named PREFIX-1, PREFIX-2, ... (no pool number, so
     * the names do not depend on how many thread factories exist). */
    private static final class Names extends DefaultThreadFactory {
        private final String prefix;
        private final AtomicInteger next = new AtomicInteger();
        private final boolean numbered;

        Names(String prefix, boolean numbered) {
            super(prefix);
            this.prefix = prefix;
            this.numbered = numbered;
        }

        @Override
        protected Thread newThread(Runnable r, String ignored) {
            String name = numbered ? prefix + "-" + next.incrementAndGet() : prefix;
            return super.newThread(r, name);
        }
    }

    private static String marker(int conn, int req) {
        return "mmapwatch-probe-c" + conn + "-r" + req;
    }

    /* --------------------------------------------------------- server */

    /* Before the HTTP/2 codec: keeps the first read of the connection,
     * which begins with the client's connection preface. */
    private static final class KeepFirstRead extends ChannelInboundHandlerAdapter {
        private boolean seen;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!seen && msg instanceof ByteBuf) {
                seen = true;
                keep(((ByteBuf) msg).retainedDuplicate(), "preface", null);
            }
            ctx.fireChannelRead(msg);
        }
    }

    private static final class Server extends ChannelDuplexHandler {
        private boolean keptData;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2DataFrame) {
                Http2DataFrame data = (Http2DataFrame) msg;
                String text = data.content().toString(StandardCharsets.US_ASCII);
                if (!keptData) {
                    keptData = true;
                    keep(data.retain(), "request", text);
                }
                int n = data.initialFlowControlledBytes();
                if (n > 0)
                    ctx.write(new DefaultHttp2WindowUpdateFrame(n).stream(data.stream()));
                if (data.isEndStream())
                    respond(ctx, data.stream(), text);
                data.release();
            } else if (msg instanceof Http2HeadersFrame) {
                Http2HeadersFrame h = (Http2HeadersFrame) msg;
                if (h.isEndStream())
                    respond(ctx, h.stream(), "");
            } else {
                ReferenceCountUtil.release(msg); // settings, pings, ...
            }
        }

        private static void respond(ChannelHandlerContext ctx, Http2FrameStream stream, String text) {
            Http2Headers headers = new DefaultHttp2Headers().status("200")
                .set("content-type", "application/grpc");
            ctx.write(new DefaultHttp2HeadersFrame(headers).stream(stream));
            ByteBuf body = ctx.alloc().buffer();
            body.writeCharSequence("ok " + text, StandardCharsets.US_ASCII);
            ctx.writeAndFlush(new DefaultHttp2DataFrame(body, true).stream(stream))
                .addListener(ChannelFutureListener.FIRE_EXCEPTION_ON_FAILURE);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            fail("server: " + cause);
            ctx.close();
        }
    }

    /* --------------------------------------------------------- client */

    private static final class Client extends Http2ChannelDuplexHandler {
        private final int conn;
        private final String authority;
        private int req = -1; // the request in flight
        private final StringBuilder answer = new StringBuilder();

        Client(int conn, String authority) {
            this.conn = conn;
            this.authority = authority;
        }

        private void send(ChannelHandlerContext ctx) {
            req++;
            answer.setLength(0);
            Http2FrameStream stream = newStream();
            Http2Headers headers = new DefaultHttp2Headers().method("POST").scheme("http")
                .path("/mmapwatch.Probe/Echo").authority(authority)
                .set("content-type", "application/grpc")
                .set("user-agent", "mmapwatch-probe/1.0")
                .set("te", "trailers");
            ctx.write(new DefaultHttp2HeadersFrame(headers).stream(stream));
            String text = marker(conn, req);
            ByteBuf body = ctx.alloc().buffer();
            body.writeCharSequence(text, StandardCharsets.US_ASCII);
            if (req == 0)
                keep(body.retainedDuplicate(), "request", text);
            ctx.writeAndFlush(new DefaultHttp2DataFrame(body, true).stream(stream))
                .addListener(ChannelFutureListener.FIRE_EXCEPTION_ON_FAILURE);
        }

        /* The first request goes out with the preface, in one flush:
         * Netty writes the preface and settings without flushing them. */
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.fireChannelActive();
            send(ctx);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2DataFrame) {
                Http2DataFrame data = (Http2DataFrame) msg;
                answer.append(data.content().toString(StandardCharsets.US_ASCII));
                int n = data.initialFlowControlledBytes();
                if (n > 0)
                    ctx.write(new DefaultHttp2WindowUpdateFrame(n).stream(data.stream()));
                if (data.isEndStream())
                    answered(ctx);
            } else if (msg instanceof Http2HeadersFrame) {
                Http2HeadersFrame h = (Http2HeadersFrame) msg;
                if (!h.isEndStream() && !"200".contentEquals(h.headers().status()))
                    fail("client " + conn + ": status " + h.headers().status());
                if (h.isEndStream())
                    answered(ctx);
            }
            ReferenceCountUtil.release(msg);
        }

        private void answered(ChannelHandlerContext ctx) {
            String want = "ok " + marker(conn, req);
            if (!want.contentEquals(answer)) {
                fail("client " + conn + ": answer '" + answer + "', expected '" + want + "'");
                return;
            }
            responses.incrementAndGet();
            if (req + 1 < requests)
                send(ctx);
            else
                done.countDown();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            fail("client " + conn + ": " + cause);
            ctx.close();
        }
    }

    /* ------------------------------------------------- JVM internals */

    /* Work for HotSpot's own use of signals and safepoints while traced:
     * reading a field through null is caught by its SIGSEGV handler
     * (implicit null checks, in the interpreter and in compiled code) and
     * becomes a NullPointerException; each System.gc() stops every Java
     * thread at a safepoint. A tracer that lost, added or misrouted a
     * SIGSEGV would crash or hang the JVM here. */
    private static final class Box {
        int value = 1;
    }

    private static int valueOf(Box b) {
        return b.value;
    }

    private static int nullDereferences(int n) {
        Box box = new Box();
        int caught = 0;
        for (int i = 0; i < n; i++) {
            try {
                valueOf((i & 1) == 0 ? box : null);
            } catch (NullPointerException e) {
                caught++;
            }
        }
        return caught;
    }

    /* ---------------------------------------------------------- truth */

    private static final class Loop {
        final String role;
        final EventExecutor executor;
        String name;
        long tid;
        int arena = -1;

        Loop(String role, EventExecutor executor) {
            this.role = role;
            this.executor = executor;
        }
    }

    /* Which direct arena the calling thread's cache is bound to, or -1 if
     * it has none yet. Netty keeps this private; asking the allocator for
     * threadCache() from a thread without one would bind it, so this
     * asks only whether the thread has one. */
    @SuppressWarnings("deprecation") // hasThreadLocalCache(): still there in 4.1.x
    private static int boundArena(PooledByteBufAllocator alloc) throws Exception {
        if (!alloc.hasThreadLocalCache())
            return -1;
        Method m = PooledByteBufAllocator.class.getDeclaredMethod("threadCache");
        m.setAccessible(true);
        Object cache = m.invoke(alloc);
        Field f = cache.getClass().getDeclaredField("directArena");
        f.setAccessible(true);
        Object arena = f.get(cache);
        List<PoolArenaMetric> arenas = alloc.metric().directArenas();
        for (int i = 0; i < arenas.size(); i++)
            if (arenas.get(i) == arena)
                return i;
        return -1;
    }

    /* The address of a chunk's memory (the start of the JDK's malloc). */
    private static long chunkAddress(PoolChunkMetric chunk) throws Exception {
        Field mem = chunk.getClass().getDeclaredField("memory");
        mem.setAccessible(true);
        Field off = chunk.getClass().getDeclaredField("offset");
        off.setAccessible(true);
        return PlatformDependent.directBufferAddress((ByteBuffer) mem.get(chunk)) + off.getInt(chunk);
    }

    private static int countChunks(PooledByteBufAllocator alloc) {
        int n = 0;
        for (PoolArenaMetric a : alloc.metric().directArenas())
            for (PoolChunkListMetric list : a.chunkLists())
                for (Iterator<PoolChunkMetric> it = list.iterator(); it.hasNext(); it.next())
                    n++;
        return n;
    }

    private static void writeTruth(PooledByteBufAllocator alloc, List<Loop> loops) throws Exception {
        List<String> lines = new ArrayList<>();
        int pageSize = PooledByteBufAllocator.defaultPageSize();
        int maxOrder = PooledByteBufAllocator.defaultMaxOrder();
        lines.add("allocator chunk_size=" + alloc.metric().chunkSize() + " page_size=" + pageSize
                  + " max_order=" + maxOrder + " direct_arenas=" + alloc.metric().numDirectArenas()
                  + " chunks=" + countChunks(alloc) + " no_cleaner="
                  + (PlatformDependent.useDirectBufferNoCleaner() ? 1 : 0)
                  // Netty's own default allocator must not have mapped anything.
                  + " default_chunks=" + countChunks(PooledByteBufAllocator.DEFAULT)
                  + " pid=" + ProcessHandle.current().pid());
        for (Loop l : loops)
            lines.add("loop role=" + l.role + " name=" + l.name + " tid=" + l.tid + " arena=" + l.arena);
        List<PoolArenaMetric> arenas = alloc.metric().directArenas();
        for (int i = 0; i < arenas.size(); i++) {
            PoolArenaMetric a = arenas.get(i);
            lines.add("arena index=" + i + " thread_caches=" + a.numThreadCaches());
            for (PoolChunkListMetric list : a.chunkLists()) {
                for (PoolChunkMetric c : list)
                    lines.add("chunk arena=" + i + " addr=0x" + Long.toHexString(chunkAddress(c))
                              + " size=" + c.chunkSize() + " usage=" + c.usage());
            }
        }
        synchronized (kept) {
            lines.addAll(keptTruth);
        }
        Files.write(Paths.get(truthPath), lines, StandardCharsets.US_ASCII);
    }

    /* --regrow, on an event loop: see the top comment. */
    private static Void regrowIn(PooledByteBufAllocator alloc) {
        int chunk = alloc.metric().chunkSize();
        alloc.directBuffer(chunk + (4 << 20)).release();
        for (int i = 0; i < REGROW_BUFFERS; i++) {
            ByteBuf buf = alloc.directBuffer(12 << 20);
            String marker = "mmapwatch-regrow-" + Thread.currentThread().getName() + "-" + i;
            byte[] text = marker.getBytes(StandardCharsets.US_ASCII);
            int at = 6 << 20;
            buf.setBytes(at, text);
            synchronized (kept) {
                kept.add(buf);
                keptTruth.add("regrow tid=" + tid() + " thread=" + Thread.currentThread().getName()
                              + " addr=0x" + Long.toHexString(buf.memoryAddress() + at)
                              + " marker=" + marker);
            }
        }
        return null;
    }

    /* ----------------------------------------------------------- main */

    private static int count(String[] args, int i, int max) {
        if (i >= args.length)
            usage(args[i - 1] + " needs a number");
        try {
            int n = Integer.parseInt(args[i]);
            if (n >= 1 && n <= max)
                return n;
        } catch (NumberFormatException e) {
            // below
        }
        usage(args[i - 1] + " takes a number from 1 to " + max + ", not '" + args[i] + "'");
        return 0;
    }

    private static void usage(String why) {
        System.err.println("NettyArenas: " + why);
        System.err.println("usage: NettyArenas [--truth FILE] [--wait-stdin] [--server-loops N] "
                           + "[--client-loops N] [--connections N] [--requests N] [--churn N] "
                           + "[--bench] [--hold] [--regrow]");
        System.exit(2);
    }

    @SuppressWarnings("deprecation") // the 5-argument allocator constructor, as in 4.1.48's docs
    public static void main(String[] args) throws Exception {
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
            case "--truth":
                if (++i >= args.length)
                    usage("--truth needs a file");
                truthPath = args[i];
                break;
            case "--wait-stdin": waitStdin = true; break;
            case "--bench": bench = true; break;
            case "--hold": hold = true; break;
            case "--regrow": regrow = true; break;
            case "--server-loops": serverLoops = count(args, ++i, 9); break;
            case "--client-loops": clientLoops = count(args, ++i, 9); break;
            case "--connections": connections = count(args, ++i, 1000); break;
            case "--requests": requests = count(args, ++i, 10000000); break;
            case "--churn": churn = count(args, ++i, 1000000); break;
            default: usage("unknown argument '" + args[i] + "'");
            }
        }
        done = new CountDownLatch(connections);

        // One direct arena per event loop that allocates, no heap arenas:
        // every event loop gets an arena of its own (the thread caches pick
        // the least used arena, one thread at a time).
        PooledByteBufAllocator alloc = new PooledByteBufAllocator(true, 0, serverLoops + clientLoops,
            PooledByteBufAllocator.defaultPageSize(), PooledByteBufAllocator.defaultMaxOrder());

        EventLoopGroup boss = new NioEventLoopGroup(1, new Names("srv-boss", false));
        EventLoopGroup workers = new NioEventLoopGroup(serverLoops, new Names("srv-loop", true));
        EventLoopGroup clients = new NioEventLoopGroup(clientLoops, new Names("cli-loop", true));

        // Start every event-loop thread now (Netty starts them at their
        // first task) and learn its tid: an attaching tracer finds them all.
        List<Loop> loops = new ArrayList<>();
        for (EventExecutor e : boss) loops.add(new Loop("boss", e));
        for (EventExecutor e : workers) loops.add(new Loop("server", e));
        for (EventExecutor e : clients) loops.add(new Loop("client", e));
        for (Loop l : loops) {
            l.executor.submit(() -> {
                l.name = Thread.currentThread().getName();
                l.tid = tid();
            }).get();
        }

        Channel server = new ServerBootstrap()
            .group(boss, workers)
            .channel(NioServerSocketChannel.class)
            .childOption(ChannelOption.ALLOCATOR, alloc)
            .childHandler(new ChannelInitializer<SocketChannel>() {
                @Override
                protected void initChannel(SocketChannel ch) {
                    ch.pipeline().addLast(new KeepFirstRead(),
                                          Http2FrameCodecBuilder.forServer().build(), new Server());
                }
            })
            .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        int port = ((InetSocketAddress) server.localAddress()).getPort();

        if (waitStdin) {
            System.out.println("ready " + ProcessHandle.current().pid());
            System.out.flush();
            if (System.in.read() < 0)
                die("stdin closed before the go-ahead");
        }

        long start = System.nanoTime();
        Bootstrap client = new Bootstrap()
            .group(clients)
            .channel(NioSocketChannel.class)
            .option(ChannelOption.ALLOCATOR, alloc);
        for (int c = 0; c < connections; c++) {
            final int conn = c;
            client.clone().handler(new ChannelInitializer<SocketChannel>() {
                @Override
                protected void initChannel(SocketChannel ch) {
                    ch.pipeline().addLast(Http2FrameCodecBuilder.forClient().build(),
                                          new Client(conn, "127.0.0.1:" + port));
                }
            }).connect(new InetSocketAddress("127.0.0.1", port)).sync();
        }
        if (!done.await(TRAFFIC_TIMEOUT_S, TimeUnit.SECONDS))
            die("no answer to every request within " + TRAFFIC_TIMEOUT_S + " s ("
                + responses.get() + " of " + connections * requests + ")");
        double seconds = (System.nanoTime() - start) / 1e9;
        if (failure.get() != null)
            die(failure.get());

        int npes = nullDereferences(NULL_DEREFERENCES);
        for (int i = 0; i < FULL_GCS; i++)
            System.gc();

        if (regrow)
            for (Loop l : loops)
                if (l.role.equals("client"))
                    l.executor.submit(() -> regrowIn(alloc)).get();
        for (Loop l : loops)
            l.arena = l.executor.submit(() -> boundArena(alloc)).get();
        List<String> churned = new ArrayList<>();
        for (Loop l : loops) {
            if (churn == 0 || l.role.equals("boss"))
                continue;
            int size = alloc.metric().chunkSize();
            l.executor.submit(() -> {
                for (int i = 0; i < churn; i++)
                    alloc.directBuffer(size, size).release();
            }).get();
            churned.add("churn tid=" + l.tid + " count=" + churn + " size=" + size);
        }
        synchronized (kept) {
            keptTruth.addAll(churned);
        }
        if (truthPath != null)
            writeTruth(alloc, loops);

        PrintStream out = System.out;
        out.println("NettyArenas: " + serverLoops + " server loops, " + clientLoops + " client loops, "
                    + connections + " connections, " + responses.get() + " of "
                    + connections * requests + " requests answered");
        out.println("NettyArenas: " + alloc.metric().numDirectArenas() + " direct arenas, chunks of "
                    + alloc.metric().chunkSize() + " bytes");
        out.println("NettyArenas: " + npes + " of " + NULL_DEREFERENCES + " field reads through null caught, "
                    + FULL_GCS + " full collections");
        if (bench)
            out.printf("bench: %d requests in %.6f s: %.1f requests/s%n", responses.get(), seconds,
                       responses.get() / seconds);
        out.flush();
        if (hold) {
            out.println("holding");
            out.flush();
            System.in.read(); // a byte or the end: either way, exit
        }
        // The kept buffers and the chunks stay until the process ends, as
        // in a server that leaks; exit without shutting the loops down.
        System.exit(0);
    }
}
