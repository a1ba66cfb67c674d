/*
 * EchoServer: a Netty echo server on 127.0.0.1 for the benchmark's
 * attached-server workload (scripts/bench.sh echo): a long-running JVM
 * whose threads spend their time in epoll_wait, read and write, the kind
 * of process mmapwatch is attached to in production.
 *
 * Built against Debian's libnetty-java (Netty 4.1.48) by the Makefile into
 * build/java, like NettyArenas.
 *
 *   java -cp build/java:JARS EchoServer [--loops N]
 *
 * Binds an ephemeral port on 127.0.0.1, prints "port PORT" and serves
 * until its standard input ends (the benchmark closes it), then shuts the
 * event loops down and exits 0. Each connection gets back every byte it
 * sends, through Netty's pooled direct buffers, on one of N event loops
 * (default 2, one per core of the machine the figures come from), whose
 * thread names start with "echo-loop" ("echo-boss" accepts; Netty adds
 * numbers). The load comes from
 * tests/fixtures/bench_echo_client.c.
 */
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;

public final class EchoServer {
    private EchoServer() {}

    /* Writes back what it reads; flushes once per batch of reads. */
    private static final class Echo extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.write(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); /* a client that went away: not the server's end */
        }
    }

    public static void main(String[] args) throws Exception {
        int loops = 2;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--loops") && i + 1 < args.length) {
                loops = Integer.parseInt(args[++i]);
            } else {
                System.err.println("usage: EchoServer [--loops N]");
                System.exit(2);
            }
        }
        EventLoopGroup boss = new NioEventLoopGroup(1, new DefaultThreadFactory("echo-boss"));
        EventLoopGroup workers = new NioEventLoopGroup(loops, new DefaultThreadFactory("echo-loop"));
        try {
            ServerBootstrap b = new ServerBootstrap()
                .group(boss, workers)
                .channel(NioServerSocketChannel.class)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new Echo());
                    }
                });
            Channel server = b.bind("127.0.0.1", 0).sync().channel();
            System.out.println("port " + ((InetSocketAddress) server.localAddress()).getPort());
            System.out.flush();
            while (System.in.read() >= 0) {
                /* serve until the benchmark closes our stdin */
            }
            server.close().sync();
        } finally {
            boss.shutdownGracefully().sync();
            workers.shutdownGracefully().sync();
        }
    }
}
